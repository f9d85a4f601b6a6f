"""The compilation flags of all generated and runtime numba code (one set for all).

`FASTMATH`: LLVM fast-math flags. Never nnan/ninf: NaN and inf must propagate
(with them, LLVM made `isnan` always false). Never arcp: it let LLVM turn
`0.5 / sqrt(x)` (sqrt's gradient) into an approximate reciprocal square root whose
Newton step gives nan instead of inf at x = 0. `reassoc` and `contract` let loops
vectorise and fuse multiply-adds; `afn` allows approximate library math; `nsz`
ignores the sign of zero (tanh(-0.0) may give +0.0).
"""

FASTMATH = frozenset({"reassoc", "contract", "afn", "nsz"})
