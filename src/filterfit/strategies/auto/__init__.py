"""``auto``: a global scan, then least squares on the metric's residuals.

Why not a scalar black-box optimiser: image filters have structure that they
cannot see. The metric is a sum over hundreds of thousands of per-pixel
residuals, so a Levenberg-Marquardt step built from a finite-difference
Jacobian of those residuals finds the bottom of a curved valley (the blur's
radius/sigma ridge) in a handful of iterations, and finishes exactly where the
target is reproducible. Parameters that act in steps (ImageMagick's blur radius
changes the kernel every 0.5) give identical renders for nearby values: the
strategy notices equal output hashes, widens its difference step past the
plateau, and finally tries the neighbouring steps with the continuous
parameters re-fitted, so a ridge of per-step optima cannot trap it.

The phases, one module each, are generators that yield batches of points and
receive their evaluations (batches keep every worker busy); ``strategy.py``
runs them in this order, from each start while budget remains:

1. ``scan.py``: a scrambled Sobol scan of the unit cube (or the hinted
   points), then a line scan along each parameter from the best start;
2. ``steps.py``: which parameters act in steps, and how wide the steps are;
3. ``least_squares.py``: Levenberg-Marquardt from there, several damping
   values per iteration as one batch, central differences once progress
   slows; within one quantisation level of the target a leap to where the V of
   rounding flips reaches zero;
4. ``walks.py``: a step-wise polish of the stepped parameters, re-fitting a
   lone continuous parameter on each step by a parabola;
5. ``needle.py``: where the render is close but not equal to the target, a
   search along each continuous parameter for the narrow V of the quantised
   error (first, before the polish, when the render is within one level everywhere).

``state.py`` holds what they share: the evaluations heard of (with the
residuals of the best few), the steps measured, the difference steps learnt,
and the unit-cube coordinates; ``evaluations.py`` what an evaluation tells them.

Phase 1 and the line scans only rank far-apart points, so on a photo of some
size they run alone on a crop of it (``scan_only``, see fidelity/crop.py), and the
rest starts on the whole photo from where least squares would have started.
"""

from .strategy import AutoStrategy

__all__ = ["AutoStrategy"]
