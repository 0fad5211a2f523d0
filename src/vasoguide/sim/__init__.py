"""In-silico evaluation: virtual patients in shock, three policies, trial measures.

A model, not a trial: the plant (plant.py) is a sourced NE PK/PD model (params.yaml, every
number tagged with its source); the policies (policies.py) are vasoguide's advice applied by a
virtual nurse, a manual-care nurse calibrated to the demo data, and a closed-loop controller.
Needs the `data` extra (NumPy, matplotlib, pyarrow).
"""

from __future__ import annotations

from .params import Params, load_params
from .run import SimConfig, simulate

__all__ = ["Params", "SimConfig", "load_params", "simulate"]
