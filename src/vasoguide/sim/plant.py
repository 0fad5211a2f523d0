"""The plant: norepinephrine PK/PD for many patients at once (NumPy, no per-patient loop).

PK (Li 2024): two compartments, zero-order endogenous production, an input delay (lag + line
dead space). The linear system is stepped exactly (zero-order hold) with a per-patient 2x2
transition matrix, so a 15 s step is stable for any clearance. PD (Oualha 2014): a direct Emax
on total plasma NE, `MAP = (MAP0(t) + dMAP * C / (C + EC50)) * volume(t)`; vasopressin adds its
the effect of its norepinephrine-equivalent dose (FACTS 5 NEE).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from .cohort import Cohort, Course
from .params import Params

__all__ = ["DT", "SUBSTEPS", "Plant"]

SUBSTEPS = 4  # plant steps per minute
DT = 1.0 / SUBSTEPS  # min
F = NDArray[np.float64]


class Plant:
    """State of n patients; `minute()` advances all of them by one minute."""

    def __init__(self, p: Params, c: Cohort, course: Course | None = None) -> None:
        self.c, self.course = c, course
        self.nmol_per_ug = 1000.0 / p["molar_mass"]
        self.avp_nee = p["vasopressin_nee"]
        k10, k12, k21 = c.cl / c.vc, c.q / c.vc, c.q / c.vp
        a, b, cc, d = -(k10 + k12), k21, k12, -k21
        tr, det = a + d, a * d - b * cc
        disc = np.sqrt(tr * tr - 4.0 * det)
        l1, l2 = (tr + disc) / 2.0, (tr - disc) / 2.0
        e1, e2 = np.exp(l1 * DT), np.exp(l2 * DT)
        # exp(M dt) = (e1 (M - l2 I) - e2 (M - l1 I)) / (l1 - l2)
        den = l1 - l2
        self.p11 = (e1 * (a - l2) - e2 * (a - l1)) / den
        self.p12 = (e1 - e2) * b / den
        self.p21 = (e1 - e2) * cc / den
        self.p22 = (e1 * (d - l2) - e2 * (d - l1)) / den
        # Input into the central compartment held over the step: M^-1 (exp(M dt) - I) e1.
        inv = 1.0 / det
        self.g1 = inv * (d * (self.p11 - 1.0) - b * self.p21)
        self.g2 = inv * (-cc * (self.p11 - 1.0) + a * self.p21)
        css = c.production / c.cl
        self.a1, self.a2 = css * c.vc, css * c.vp
        self.delay = np.rint(c.lag_min / DT).astype(np.int64)
        self.ring = np.zeros((int(self.delay.max(initial=0)) + 1, c.n))
        self.k = 0
        self.cols = np.arange(c.n)

    @property
    def concentration(self) -> F:
        """Total plasma NE, nmol/L (endogenous + infused)."""
        return np.asarray(self.a1 / self.c.vc)

    def minute(self, ne_ug_kg_min: F) -> None:
        """Advance one minute with the pump at `ne_ug_kg_min` (constant over the minute)."""
        rate = ne_ug_kg_min * self.c.weight * self.nmol_per_ug  # nmol/min
        size = self.ring.shape[0]
        for _ in range(SUBSTEPS):
            self.ring[self.k % size] = rate
            delayed = self.ring[(self.k - self.delay) % size, self.cols]
            u = delayed + self.c.production
            a1 = self.p11 * self.a1 + self.p12 * self.a2 + self.g1 * u
            self.a2 = self.p21 * self.a1 + self.p22 * self.a2 + self.g2 * u
            self.a1 = a1
            self.k += 1

    def vasopressin_effect(self, avp_u_min: F) -> F:
        """MAP rise from vasopressin: the Emax of its NE-equivalent dose, on its own receptor.

        Vasopressin acts on V1 receptors, so it is added on top of norepinephrine's effect
        instead of competing for the same Emax (which would make it useless in exactly the
        patients who need it); its size is the NEE conversion of FACTS 5.
        """
        nee = avp_u_min * self.avp_nee * self.c.weight * self.nmol_per_ug / self.c.cl
        return np.asarray(self.c.dmap * nee / (nee + self.c.ec50))

    def map(self, minute: int, avp_u_min: F) -> F:
        """True MAP (mmHg) now, at `minute` of the course."""
        if self.course is None:
            raise ValueError("a plant without a course has no MAP")
        conc = self.concentration
        effect = self.c.dmap * conc / (conc + self.c.ec50) + self.vasopressin_effect(avp_u_min)
        return np.asarray((self.course.map0[:, minute] + effect) * self.course.volume[:, minute])
