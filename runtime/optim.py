"""Optimizer updates as numba kernels: one call updates every parameter of a group.

Each kernel takes tuples of flat (1-D, C-contiguous) arrays of one dtype, one entry per
parameter (parameters, gradients, then the state buffers the update reads and writes in
place), a `coef` array of shape (count, k) in that dtype holding each parameter's scalars
(learning rate, bias corrections, ...), and integer option flags. numba specialises on the
dtype and the tuple length, not on shapes or option values, so a group of a given size
compiles once per optimizer and dtype (and is then loaded from the disk cache of
`runtime.cache`).

The arithmetic is the eager reference's, operation by operation, in the arrays' dtype
(every constant comes from `coef`, already rounded to that dtype; no literal numbers, which
numba would promote to float64), without fastmath: a kernel's result equals the eager
update's bit for bit. `maximum` propagates NaN as np.maximum does.

Flags shared by every kernel: `maximize` (negate the gradient) and `decay` (0 none, 1 L2:
g + p * wd, 2 decoupled: p * (1 - lr * wd)); the columns of `coef` used for them are the
first two (wd, 1 - lr * wd). An option that is off gets a placeholder tuple (the
parameters) that the kernel never touches.

This module knows numpy and numba only.
"""

from __future__ import annotations

import threading
from types import ModuleType

import numpy as np

from runtime.cache import load_module

__all__ = ["flat", "kernels"]

_SOURCE = '''
import numba
import numpy as np

_jit = numba.njit(cache=True, error_model="numpy")


@_jit
def maximum(a, b):
    return a if (a >= b or a != a) else b


# helpers take and return scalars only: an array argument costs reference counting at
# every call (measured 150x slower when grad_of took the arrays)
@_jit
def grad_of(pj, gj, wd, shrink, maximize, decay):
    """The gradient the formula sees and the parameter (decoupled decay scales it)."""
    if maximize:
        gj = -gj
    if decay == 1:
        gj = gj + pj * wd
    elif decay == 2:
        pj = pj * shrink
    return gj, pj


@_jit
def lerp(a, b, w, one_minus_w, small):
    return a + (b - a) * w if small else b - (b - a) * one_minus_w


@_jit
def sgd(ps, gs, bufs, coef, maximize, decay, momentum_on, nesterov):
    # coef: wd, 1 - lr*wd, -lr, momentum, 1 - dampening, fresh buffer (1 or 0)
    for i in range(len(ps)):
        p, g, b, c = ps[i], gs[i], bufs[i], coef[i]
        fresh = c[5] != 0
        for j in range(p.size):
            gj, pj = grad_of(p[j], g[j], c[0], c[1], maximize, decay)
            if momentum_on:
                bj = gj if fresh else b[j] * c[3] + gj * c[4]
                b[j] = bj
                gj = gj + bj * c[3] if nesterov else bj
            p[j] = pj + gj * c[2]


@_jit
def adam(ps, gs, ms, vs, vmaxs, coef, maximize, decay, amsgrad):
    # coef: wd, 1 - lr*wd, 1 - beta1, 1 - (1 - beta1), lerp small (1/0), beta2, 1 - beta2,
    # -lr / (1 - beta1**t), sqrt(1 - beta2**t), eps
    for i in range(len(ps)):
        p, g, m, v, vmax, c = ps[i], gs[i], ms[i], vs[i], vmaxs[i], coef[i]
        small = c[4] != 0
        for j in range(p.size):
            gj, pj = grad_of(p[j], g[j], c[0], c[1], maximize, decay)
            mj = lerp(m[j], gj, c[2], c[3], small)
            m[j] = mj
            vj = v[j] * c[5]
            vj = vj + gj * c[6] * gj
            v[j] = vj
            if amsgrad:
                vj = maximum(vmax[j], vj)
                vmax[j] = vj
            p[j] = pj + mj * c[7] / (np.sqrt(vj) / c[8] + c[9])


@_jit
def adamax(ps, gs, ms, us, coef, maximize, decay):
    # coef: wd, 1 - lr*wd, 1 - beta1, 1 - (1 - beta1), lerp small, beta2, eps,
    # -lr / (1 - beta1**t)
    for i in range(len(ps)):
        p, g, m, u, c = ps[i], gs[i], ms[i], us[i], coef[i]
        small = c[4] != 0
        for j in range(p.size):
            gj, pj = grad_of(p[j], g[j], c[0], c[1], maximize, decay)
            mj = lerp(m[j], gj, c[2], c[3], small)
            m[j] = mj
            uj = maximum(u[j] * c[5], np.abs(gj) + c[6])
            u[j] = uj
            p[j] = pj + mj * c[7] / uj


@_jit
def nadam(ps, gs, ms, vs, coef, maximize, decay):
    # coef: wd, 1 - lr*wd, 1 - beta1, 1 - (1 - beta1), lerp small, beta2, 1 - beta2,
    # 1 - beta2**t, eps, -lr (1 - mu_t) / (1 - prod_t), -lr mu_t+1 / (1 - prod_t mu_t+1)
    for i in range(len(ps)):
        p, g, m, v, c = ps[i], gs[i], ms[i], vs[i], coef[i]
        small = c[4] != 0
        for j in range(p.size):
            gj, pj = grad_of(p[j], g[j], c[0], c[1], maximize, decay)
            mj = lerp(m[j], gj, c[2], c[3], small)
            m[j] = mj
            vj = v[j] * c[5]
            vj = vj + gj * c[6] * gj
            v[j] = vj
            denom = np.sqrt(vj / c[7]) + c[8]
            pj = pj + gj * c[9] / denom
            p[j] = pj + mj * c[10] / denom


@_jit
def radam(ps, gs, ms, vs, coef, maximize, decay):
    # coef: wd, 1 - lr*wd, 1 - beta1, 1 - (1 - beta1), lerp small, beta2, 1 - beta2,
    # 1 - beta1**t, lr, rectified (1/0), eps, sqrt(1 - beta2**t), rect, 1
    for i in range(len(ps)):
        p, g, m, v, c = ps[i], gs[i], ms[i], vs[i], coef[i]
        small = c[4] != 0
        rectified = c[9] != 0
        for j in range(p.size):
            gj, pj = grad_of(p[j], g[j], c[0], c[1], maximize, decay)
            mj = lerp(m[j], gj, c[2], c[3], small)
            m[j] = mj
            vj = v[j] * c[5]
            vj = vj + gj * c[6] * gj
            v[j] = vj
            m_hat = mj / c[7]
            if rectified:
                adaptive = c[13] / (np.sqrt(vj) + c[10]) * c[11]
                p[j] = pj - m_hat * c[8] * adaptive * c[12]
            else:
                p[j] = pj - m_hat * c[8]


@_jit
def rmsprop(ps, gs, vs, avgs, bufs, coef, maximize, decay, centered, momentum_on):
    # coef: wd, 1 - lr*wd, 1 - alpha, 1 - (1 - alpha), lerp small, alpha, -lr, eps,
    # momentum
    for i in range(len(ps)):
        p, g, v, a, b, c = ps[i], gs[i], vs[i], avgs[i], bufs[i], coef[i]
        small = c[4] != 0
        for j in range(p.size):
            gj, pj = grad_of(p[j], g[j], c[0], c[1], maximize, decay)
            vj = v[j] * c[5]
            vj = vj + gj * c[2] * gj
            v[j] = vj
            if centered:
                aj = lerp(a[j], gj, c[2], c[3], small)
                a[j] = aj
                d = np.sqrt(vj - aj * aj) + c[7]
            else:
                d = np.sqrt(vj) + c[7]
            if momentum_on:
                bj = b[j] * c[8] + gj / d
                b[j] = bj
                p[j] = pj + bj * c[6]
            else:
                p[j] = pj + gj * c[6] / d


@_jit
def adagrad(ps, gs, sums, coef, maximize, decay):
    # coef: wd, 1 - lr*wd, -lr / (1 + (t - 1) * lr_decay), eps
    for i in range(len(ps)):
        p, g, s, c = ps[i], gs[i], sums[i], coef[i]
        for j in range(p.size):
            gj, pj = grad_of(p[j], g[j], c[0], c[1], maximize, decay)
            sj = s[j] + gj * gj
            s[j] = sj
            p[j] = pj + gj * c[2] / (np.sqrt(sj) + c[3])


@_jit
def adadelta(ps, gs, vs, us, coef, maximize, decay):
    # coef: wd, 1 - lr*wd, rho, 1 - rho, eps, -lr
    for i in range(len(ps)):
        p, g, v, u, c = ps[i], gs[i], vs[i], us[i], coef[i]
        for j in range(p.size):
            gj, pj = grad_of(p[j], g[j], c[0], c[1], maximize, decay)
            vj = v[j] * c[2]
            vj = vj + gj * c[3] * gj
            v[j] = vj
            delta = np.sqrt(u[j] + c[4]) / np.sqrt(vj + c[4]) * gj
            uj = u[j] * c[2]
            u[j] = uj + delta * c[3] * delta
            p[j] = pj + delta * c[5]
'''

_module: ModuleType | None = None
_lock = threading.Lock()


def kernels() -> ModuleType:
    """The module of update kernels (`sgd`, `adam`, `adamax`, `nadam`, `radam`,
    `rmsprop`, `adagrad`, `adadelta`), imported
    through the disk cache on first use; each kernel compiles at its first call for a dtype
    (or loads that from numba's cache); callers pass a fixed number of parameters per call."""
    global _module
    if _module is None:
        with _lock:
            if _module is None:
                _module = load_module(_SOURCE, name="optim_kernels", key_parts=("optim",))
    return _module


def flat(array: np.ndarray) -> np.ndarray:
    """A 1-D view of a C-contiguous array (the kernels' element order)."""
    return array.reshape(-1)
