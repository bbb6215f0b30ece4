"""Peer methods for the benchmark, each behind the :class:`~gensr.bench.outcome.FitOutcome` contract, one
module per peer: Operon and gplearn (:mod:`.srbench`, SRBench v2.0's settings), RILS-ROLS (:mod:`.rils_rols`),
HROCH (:mod:`.hroch`), eggp (:mod:`.eggp`) and the QLattice (:mod:`.qlattice`). Each imports its package
lazily and names the install command when it is missing. A new peer is one module here and one entry of
:data:`gensr.bench.methods.METHODS`.

Which extra installs which peer: ``gensr[peers]`` (and ``gensr[bench]``) has pyoperon, gplearn, HROCH and
eggp. RILS-ROLS needs two steps (``pip install pybind11``, then ``pip install --no-build-isolation
rils-rols``); feyn (the QLattice) is free for non-commercial use only, so it is left to the user.
"""

from gensr.bench.peers.eggp import EGGP_SETTINGS, eggp_to_sympy, fit_eggp
from gensr.bench.peers.hroch import HROCH_SETTINGS, fit_hroch, hroch_regressor, hroch_to_sympy
from gensr.bench.peers.qlattice import QLATTICE_SETTINGS, fit_qlattice
from gensr.bench.peers.rils_rols import RILS_ROLS_SETTINGS, fit_rils_rols, rils_rols_to_sympy
from gensr.bench.peers.srbench import (
    GPLEARN_MAX_GENERATIONS,
    GPLEARN_SETTINGS,
    OPERON_SETTINGS,
    fit_gplearn,
    fit_pyoperon,
    gplearn_program_string,
)

__all__ = ["EGGP_SETTINGS", "GPLEARN_MAX_GENERATIONS", "GPLEARN_SETTINGS", "HROCH_SETTINGS", "OPERON_SETTINGS",
           "QLATTICE_SETTINGS", "RILS_ROLS_SETTINGS", "eggp_to_sympy", "fit_eggp", "fit_gplearn", "fit_hroch",
           "fit_pyoperon", "fit_qlattice", "fit_rils_rols", "gplearn_program_string", "hroch_regressor",
           "hroch_to_sympy", "rils_rols_to_sympy"]
