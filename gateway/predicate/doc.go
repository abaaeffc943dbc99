// Package predicate holds the built-in route predicates: Path, Header,
// Method, Dst and Weight.
//
// Each predicate has a typed constructor (NewPath, ...) and a factory that
// builds it from configuration arguments (PathFromArgs, ...), for
// gateway/config's registry. Predicates are immutable and safe for concurrent
// use; Match never modifies the Request, allocates nothing on the hot path,
// and never returns an error: a predicate that cannot match says false.
package predicate
