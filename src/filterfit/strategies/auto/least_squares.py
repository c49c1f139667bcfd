"""Phase 2: Levenberg-Marquardt on the metric's residuals, from a finite-difference Jacobian.

Several damping values per iteration are evaluated as one batch, and the
differences become central once progress slows (forward differences over steps
wide enough to show through 8-bit quantisation are biased, and correlated
parameters then only creep towards the answer). Within one quantisation level
of the target the squared error is a V of rounding flips, and a creeping step
is followed by a leap to where that V reaches zero.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .evaluations import best, exact_squares, key, loss, one_level
from .state import WIDEST_STEP

if TYPE_CHECKING:
    from ...problem import Evaluation
    from .state import Batch, SearchState

__all__ = ["levenberg_marquardt"]

MAX_ITERATIONS = 40
SMALL_GAIN = 1e-3  # relative improvement below which least squares is creeping
CENTRAL_GAIN = 0.2  # relative improvement below which differences become central
LEAP_GAIN = 0.35  # relative improvement below which least squares in the V leaps to its predicted zero
PROBE_MOVES_UP_TO = 2  # free parameters up to which least squares moves to a probe that improves
FAILED_PROBE_GROWTH = 1.5  # a difference step whose probe failed is this much wider next time
FAILED_PROBE_RETRIES = 6  # Jacobians given up for failed probes before least squares stops

Fitted = Generator["Batch", list["Evaluation"], tuple[np.ndarray, "Evaluation"]]


def levenberg_marquardt(
    state: SearchState,
    x: np.ndarray,
    base: Evaluation,
    choices: dict[str, Any],
    free: np.ndarray,
    iterations: int = MAX_ITERATIONS,
) -> Fitted:
    """Levenberg-Marquardt on the free parameters, from (x, base)."""
    damping, stalls, central, retries, leaping = 1e-3, 0, False, 0, True
    state.reset_steps()
    for _ in range(iterations):
        if base.loss == 0 or base.residuals is None or stalls >= 3:
            break
        jacobian, results = yield from _differences(state, x, base, choices, free, central)
        # With a parameter or two, a probe that improves is as good a move as any, and cheap. With more,
        # moving from probe to probe is coordinate descent in steps of the difference width: no.
        better = best(results) if free.sum() <= PROBE_MOVES_UP_TO else None
        if better is not None and loss(better) < loss(base):
            x, base = state.unit(key(better, state.space)), better  # a probe improved: move there
            continue
        forward = results[: int(free.sum())]
        if jacobian is None and not all(r.ok for r in forward) and retries < FAILED_PROBE_RETRIES:
            retries += 1  # failed probes, not a flat loss: try again with the steps _jacobian moved
            continue
        if jacobian is None:
            break
        candidates = _damped_steps(state, x, base, jacobian, damping, free)
        if not candidates:
            break
        results = yield [state.compose(c, choices) for c, _ in candidates]
        index = min(range(len(results)), key=lambda k: loss(results[k]))
        if loss(results[index]) < loss(base):
            gain = loss(base) - loss(results[index])
            stalls = stalls + 1 if gain < SMALL_GAIN * loss(base) else 0  # creeping counts as stalling
            # Slow progress means a biased Jacobian: forward differences over steps wide enough to
            # show through quantisation miss the curvature; central ones cancel it.
            central = central or gain < CENTRAL_GAIN * loss(base)
            _narrow_steps(state, np.abs(candidates[index][0] - x), free)
            moved, before = candidates[index][0] - x, base
            x, base, damping = candidates[index][0], results[index], candidates[index][1] / 3
            # Within a level of the target the error counts rounding flips: a V, not the parabola least
            # squares models, so it creeps; the V's slope along the move predicts where it reaches zero.
            if leaping and gain < LEAP_GAIN * loss(before) and one_level(base):
                x, base, leaping = yield from _leap(state, x, moved, before, base, choices)
        else:
            damping, stalls = candidates[-1][1] * 8, stalls + 1
            if damping > 1e6:
                break
    return x, base


def _differences(
    state: SearchState, x: np.ndarray, base: Evaluation, choices: dict[str, Any], free: np.ndarray, central: bool
) -> Generator[Batch, list[Evaluation], tuple[np.ndarray | None, list[Evaluation]]]:
    """The Jacobian of the free parameters (None if no probe changed the render usably), and every probe's result."""
    probes = [state.probe(x, int(i), state.steps[i]) for i in np.flatnonzero(free)]
    backward = _backward_probes(state, x, probes, free) if central else []
    results = yield [state.compose(p, choices) for p in probes + [p for _, p in backward]]
    forward_results, backward_results = results[: len(probes)], results[len(probes) :]
    jacobian = _jacobian(state, x, base, probes, forward_results, free)
    if jacobian is not None:
        _central_differences(jacobian, probes, forward_results, backward, backward_results, free)
    return jacobian, results


def _leap(
    state: SearchState, x: np.ndarray, moved: np.ndarray, before: Evaluation, after: Evaluation, choices: dict[str, Any]
) -> Generator[Batch, list[Evaluation], tuple[np.ndarray, Evaluation, bool]]:
    """Try where the squared error, falling like a V along the last move, reaches zero; False: leaping failed.

    The V is a continuous parameter's: a move that changed a stepped parameter's step says nothing of it.
    """
    fall = exact_squares(before) - exact_squares(after)
    stepped = np.array([p.name in state.stepped for p in state.numeric])
    jumped = stepped & (moved != 0) & ~state.within_step(x - moved, moved)
    if fall <= 0 or jumped.any():
        return x, after, True
    point = np.clip(x + np.where(stepped, 0.0, moved) * exact_squares(after) / fall, 0, 1)
    if np.array_equal(point, x):
        return x, after, True
    result = (yield [state.compose(point, choices)])[0]
    if loss(result) < loss(after):
        return point, result, True
    return x, after, False


def _backward_probes(
    state: SearchState, x: np.ndarray, forward: list[np.ndarray], free: np.ndarray
) -> list[tuple[int, np.ndarray]]:
    """Mirror images of the forward probes of continuous parameters, where they stay in range."""
    mirrored = []
    for k, (index, probe) in enumerate(zip(np.flatnonzero(free), forward)):
        if state.numeric[index].name in state.stepped:
            continue
        point = x.copy()
        point[index] = 2 * x[index] - probe[index]
        if 0 <= point[index] <= 1:
            mirrored.append((k, point))
    return mirrored


def _narrow_steps(state: SearchState, moved: np.ndarray, free: np.ndarray) -> None:
    """Near the optimum, difference over about the distance moved (not below what renders show)."""
    for i in np.flatnonzero(free):
        if state.numeric[i].name not in state.stepped:
            state.steps[i] = max(state.floors[i], min(state.steps[i], 2 * moved[i]))


def _jacobian(
    state: SearchState,
    x: np.ndarray,
    base: Evaluation,
    probes: Sequence[np.ndarray],
    results: Sequence[Evaluation],
    free: np.ndarray,
) -> np.ndarray | None:
    """Finite-difference Jacobian; widens the step of parameters whose render did not change."""
    assert base.residuals is not None
    steps = state.steps
    columns = np.zeros((base.residuals.size, len(state.numeric)), dtype=np.float32)
    usable = False
    for index, probe, result in zip(np.flatnonzero(free), probes, results):
        name = state.numeric[index].name
        if not result.ok:
            # A program that fails for some values: probe a little further out next time, elsewhere.
            steps[index] = min(WIDEST_STEP, steps[index] * FAILED_PROBE_GROWTH)
            continue
        if result.residuals is None:  # an evaluation whose residuals were forgotten: not a failure
            continue
        if result.output_hash == base.output_hash:
            if steps[index] >= WIDEST_STEP:
                state.no_effect.add(name)
            else:
                steps[index] = state.floors[index] = min(WIDEST_STEP, steps[index] * 4)
            continue
        state.no_effect.discard(name)
        change = result.residuals - base.residuals
        if _below_quantisation(change) and steps[index] < WIDEST_STEP:
            steps[index] = state.floors[index] = min(WIDEST_STEP, steps[index] * 4)  # a step renders can show
        columns[:, index] = change / (probe[index] - x[index])
        usable = True
    return columns if usable else None


def _damped_steps(
    state: SearchState, x: np.ndarray, base: Evaluation, jacobian: np.ndarray, damping: float, free: np.ndarray
) -> list[tuple[np.ndarray, float]]:
    """Candidate points for several damping values, strongest damping last."""
    assert base.residuals is not None
    normal = (jacobian.T @ jacobian).astype(np.float64)
    gradient = (jacobian.T @ base.residuals).astype(np.float64)
    state.slope = np.where(free, gradient, state.slope)  # which way is downhill, for the walks
    scale = np.diag(normal).copy()
    scale[scale == 0] = 1.0
    candidates: list[tuple[np.ndarray, float]] = []
    count = max(2, state.workers)
    for k in range(count):
        lam = damping * 10 ** (k - 1) if count > 2 else damping * 10**k
        step = _solve(normal + lam * np.diag(scale), gradient, free)
        # A stepped parameter moved within its step changes nothing, and the others' move, solved
        # as if it did, is off: solve again without it.
        stuck = free & state.within_step(x, step)
        if step is not None and stuck.any():
            step = _solve(normal + lam * np.diag(scale), gradient, free & ~stuck)
        if step is None:
            continue
        point = np.clip(x + step, 0, 1)
        if np.max(np.abs(point - x)) > 1e-9:
            candidates.append((point, lam))
    return candidates


def _solve(matrix: np.ndarray, gradient: np.ndarray, free: np.ndarray) -> np.ndarray | None:
    """The Gauss-Newton step of the free parameters (the others stay), or None when singular."""
    step = np.zeros_like(gradient)
    if not free.any():
        return None
    try:
        step[free] = np.linalg.solve(matrix[np.ix_(free, free)], -gradient[free])
    except np.linalg.LinAlgError:
        return None
    return step


def _central_differences(
    jacobian: np.ndarray,
    forward: Sequence[np.ndarray],
    forward_results: Sequence[Evaluation],
    backward: Sequence[tuple[int, np.ndarray]],
    backward_results: Sequence[Evaluation],
    free: np.ndarray,
) -> None:
    """Replace forward-difference columns by central ones where both probes rendered."""
    indices = np.flatnonzero(free)
    for (k, point), result in zip(backward, backward_results):
        ahead = forward_results[k]
        if result.residuals is None or ahead.residuals is None or not (result.ok and ahead.ok):
            continue
        index = indices[k]
        jacobian[:, index] = (ahead.residuals - result.residuals) / (forward[k][index] - point[index])


def _below_quantisation(change: np.ndarray) -> bool:
    """True when a difference is mostly rounding: few samples moved, by about one level.

    Renders are quantised (8 or 16 bits); a step too small to show in most
    samples gives a Jacobian of rounding noise whose inflated norm makes
    Gauss-Newton steps far too short.
    """
    moved = np.abs(change[change != 0])
    if moved.size == 0:
        return True
    level = moved.min()
    return float(np.abs(change).mean()) < 0.5 * level
