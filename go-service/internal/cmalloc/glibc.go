//go:build linux && cgo

package cmalloc

/*
#include <stdlib.h>
#ifdef __GLIBC__
#include <malloc.h>
// Two arenas, not eight per core: librdkafka runs a thread per broker and
// per client, and each arena keeps its own free memory.
static void payagg_malloc_setup(void) { mallopt(M_ARENA_MAX, 2); }
static void payagg_malloc_trim(void) { malloc_trim(0); }
#else
static void payagg_malloc_setup(void) {}
static void payagg_malloc_trim(void) {}
#endif
*/
import "C"

// init runs before main starts any Kafka client, so their threads take
// their arenas from the bounded set.
func init() { C.payagg_malloc_setup() }

func trim() { C.payagg_malloc_trim() }
