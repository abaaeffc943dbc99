package inbox

import (
	"errors"
	"sync"
	"testing"
)

func TestOfferFullEnd(t *testing.T) {
	in := New[int](2)
	if in.Err() != nil || in.Ended() {
		t.Fatal("new inbox has ended")
	}
	for i, want := range []Result{Queued, Queued, Full} {
		if got := in.Offer(i); got != want {
			t.Fatalf("Offer %d = %v, want %v", i, got, want)
		}
	}
	in.Drop(1)
	reason := errors.New("done")
	if !in.End(reason) || in.End(errors.New("again")) {
		t.Fatal("End did not report the first call only")
	}
	if in.Offer(9) != Ended {
		t.Error("Offer after End did not report Ended")
	}
	<-in.Done()
	if in.Err() != reason || in.Dropped() != 1 {
		t.Errorf("Err = %v, Dropped = %d", in.Err(), in.Dropped())
	}
	var got []int
	for v := range in.C() {
		got = append(got, v)
	}
	if len(got) != 2 || got[0] != 0 || got[1] != 1 {
		t.Errorf("drained %v, want [0 1]", got)
	}
}

// TestOfferRacesEnd: Offer from many goroutines while End closes the
// channel must neither panic nor lose accounting (run with -race).
func TestOfferRacesEnd(t *testing.T) {
	for range 100 {
		in := New[int](8)
		var wg sync.WaitGroup
		var queued [4]int
		for g := range 4 {
			wg.Go(func() {
				for i := range 100 {
					if in.Offer(i) == Queued {
						queued[g]++
					}
				}
			})
		}
		in.End(errors.New("end"))
		wg.Wait()
		n := 0
		for range in.C() {
			n++
		}
		if sum := queued[0] + queued[1] + queued[2] + queued[3]; n != sum {
			t.Fatalf("drained %d, queued %d", n, sum)
		}
	}
}
