"""The Operand methods, by family: one mixin class per module.

`compiler.operand.Operand` (the arithmetic, dtype and shape basics) inherits
every mixin listed there, so eager Tensors, symbolic values and numpy Values all
get each method. A method normalises its arguments with `compiler.args` and
calls `compiler.dispatch.apply(op_name, *inputs, **params)`; the op itself is
declared once in `compiler/ops/`. A module-level function of the same name, for
`tracer.norm(x)` next to `x.norm()`, goes in `tracer/functions/`.
"""
