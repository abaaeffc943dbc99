// Package filter holds the built-in request-rewriting filters: StripPrefix,
// PrefixPath, SetPath, AddRequestHeader and RemoveRequestHeader.
//
// Each filter is a gateway.Middleware with a typed constructor (StripPrefix,
// ...) and a factory that builds it from configuration arguments
// (StripPrefixFromArgs, ...), for gateway/config's registry. A filter never
// modifies the Request it is given: it passes a copy on (a shallow copy when
// it changes only the path, a deep one with its own Header when it changes
// headers). Filters are safe for concurrent use.
package filter
