"""Registry of model structures: parameter and state names, defaults, bounds and feasible ranges.

A structure is named ``"snow-hydrological-routing"``, e.g. ``"zero-gr4-kw"``; its parameter (state) list is
the concatenation of the snow, hydrological and routing lists, in that order. Values follow
``../shared/spec/forward.md`` §3.
"""
from dataclasses import dataclass

import numpy as np

__all__ = ["Structure", "get_structure", "SNOW_MODULES", "HYDROLOGICAL_MODULES", "ROUTING_MODULES"]


@dataclass(frozen=True)
class Variable:
    """One parameter or state: its default, optimisation bounds and open feasible interval."""

    name: str
    unit: str
    default: float
    bounds: tuple
    feasible: tuple
    description: str


def _var(name, unit, default, bounds, feasible, description):
    return Variable(name, unit, float(default), tuple(map(float, bounds)), tuple(map(float, feasible)),
                    description)


_INF = np.inf
PARAMETERS = {v.name: v for v in [
    _var("kmlt", "mm/°C/dt", 1, (1e-6, 10), (0, _INF), "degree-day melt factor (ssn)"),
    _var("ci", "mm", 1e-6, (1e-6, 100), (0, _INF), "interception capacity (adjusted from forcings by default)"),
    _var("cp", "mm", 200, (1e-6, 1000), (0, _INF), "production store capacity"),
    _var("ct", "mm", 500, (1e-6, 1000), (0, _INF), "transfer store capacity"),
    _var("cl", "mm", 500, (1e-6, 1000), (0, _INF), "slow transfer store capacity (grc)"),
    _var("be", "mm", 10, (1e-3, 20), (0, _INF), "exponential store scale (gr6)"),
    _var("kexc", "mm/dt", 0, (-50, 50), (-_INF, _INF), "groundwater exchange coefficient"),
    _var("aexc", "-", 0.1, (1e-6, 0.999999), (0, 1), "exchange threshold of the transfer level (gr5)"),
    _var("ca", "mm", 200, (1e-6, 1000), (0, _INF), "production store capacity (loieau)"),
    _var("cc", "mm", 500, (1e-6, 1000), (0, _INF), "transfer store capacity (loieau)"),
    _var("kb", "-", 1, (1e-6, 4), (0, _INF), "runoff multiplier (loieau)"),
    _var("b", "-", 0.1, (1e-3, 0.8), (0, _INF), "VIC infiltration shape (vic3l)"),
    _var("cusl", "mm", 100, (10, 500), (0, _INF), "upper soil layer capacity (vic3l)"),
    _var("cmsl", "mm", 500, (100, 2000), (0, _INF), "middle soil layer capacity (vic3l)"),
    _var("cbsl", "mm", 2000, (100, 2000), (0, _INF), "bottom soil layer capacity (vic3l)"),
    _var("ks", "mm/dt", 20, (1, 1e5), (0, _INF), "saturated drainage coefficient (vic3l)"),
    _var("pbc", "-", 10, (1, 30), (0, _INF), "Brooks-Corey drainage exponent (vic3l)"),
    _var("ds", "-", 0.01, (1e-6, 0.999999), (0, _INF), "ARNO baseflow fraction (vic3l)"),
    _var("dsm", "mm/dt", 10, (1e-3, 1e5), (0, _INF), "maximum baseflow (vic3l)"),
    _var("ws", "-", 0.8, (1e-6, 0.999999), (0, _INF), "ARNO moisture threshold of the bottom layer (vic3l)"),
    _var("llr", "min", 5, (1e-6, 1000), (0, _INF), "linear routing time constant (default scaled by dt/3600)"),
    _var("akw", "-", 5, (1e-3, 50), (0, _INF), "kinematic wave alpha (A = akw Q^bkw)"),
    _var("bkw", "-", 0.6, (1e-3, 1), (0, _INF), "kinematic wave beta"),
]}
STATES = {v.name: v for v in [
    _var("hs", "mm", 1e-6, (1e-6, 1000), (0, _INF), "snow store (ssn)"),
    _var("hi", "-", 0.01, (1e-6, 0.999999), (0, 1), "interception store level, normalised"),
    _var("hp", "-", 0.01, (1e-6, 0.999999), (0, 1), "production store level, normalised"),
    _var("ht", "-", 0.01, (1e-6, 0.999999), (0, 1), "transfer store level, normalised"),
    _var("hl", "-", 0.01, (1e-6, 0.999999), (0, 1), "slow transfer store level, normalised (grc)"),
    _var("he", "mm", -100, (-1000, 0), (-_INF, _INF), "exponential store level (gr6)"),
    _var("ha", "-", 0.01, (1e-6, 0.999999), (0, 1), "production store level, normalised (loieau)"),
    _var("hc", "-", 0.01, (1e-6, 0.999999), (0, 1), "transfer store level, normalised (loieau)"),
    _var("hcl", "-", 0.01, (1e-6, 0.999999), (0, 1), "canopy store level, normalised (vic3l, 1 mm)"),
    _var("husl", "-", 0.01, (1e-6, 0.999999), (0, 1), "upper soil layer level, normalised (vic3l)"),
    _var("hmsl", "-", 0.01, (1e-6, 0.999999), (0, 1), "middle soil layer level, normalised (vic3l)"),
    _var("hbsl", "-", 1e-6, (1e-6, 0.999999), (0, 1), "bottom soil layer level, normalised (vic3l)"),
    _var("hlr", "mm", 1e-6, (1e-6, 1000), (0, _INF), "linear routing store level"),
]}

SNOW_MODULES = {
    "zero": dict(parameters=(), states=(), fluxes=()),
    "ssn": dict(parameters=("kmlt",), states=("hs",), fluxes=("mlt",)),
}
HYDROLOGICAL_MODULES = {
    "gr4": dict(
        parameters=("ci", "cp", "ct", "kexc"),
        states=("hi", "hp", "ht"),
        fluxes=("pn", "en", "pr", "perc", "ps", "es", "lexc", "prr", "prd", "qr", "qd", "qt"),
    ),
    "gr5": dict(
        parameters=("ci", "cp", "ct", "kexc", "aexc"),
        states=("hi", "hp", "ht"),
        fluxes=("pn", "en", "pr", "perc", "ps", "es", "lexc", "prr", "prd", "qr", "qd", "qt"),
    ),
    "gr6": dict(
        parameters=("ci", "cp", "ct", "be", "kexc", "aexc"),
        states=("hi", "hp", "ht", "he"),
        fluxes=("pn", "en", "pr", "perc", "ps", "es", "lexc", "prr", "prd", "pre", "qr", "qd", "qe", "qt"),
    ),
    "grc": dict(
        parameters=("ci", "cp", "ct", "cl", "kexc"),
        states=("hi", "hp", "ht", "hl"),
        fluxes=("pn", "en", "pr", "perc", "ps", "es", "lexc", "prr", "prd", "prl", "qr", "qd", "ql", "qt"),
    ),
    "grd": dict(
        parameters=("cp", "ct"),
        states=("hp", "ht"),
        fluxes=("ei", "pn", "en", "pr", "perc", "ps", "es", "prr", "qr", "qt"),
    ),
    "loieau": dict(
        parameters=("ca", "cc", "kb"),
        states=("ha", "hc"),
        fluxes=("ei", "pn", "en", "pr", "perc", "ps", "es", "prr", "prd", "qr", "qd", "qt"),
    ),
    "gr4_mlp": dict(
        parameters=("ci", "cp", "ct", "kexc"),
        states=("hi", "hp", "ht"),
        fluxes=("pn", "en", "pr", "perc", "ps", "es", "lexc", "prr", "prd", "qr", "qd", "f1", "f2", "f3", "f4", "qt"),
        network=dict(inputs=("hp", "ht", "pn", "en"), outputs=("f1", "f2", "f3", "f4")),
    ),
    "gr5_mlp": dict(
        parameters=("ci", "cp", "ct", "kexc", "aexc"),
        states=("hi", "hp", "ht"),
        fluxes=("pn", "en", "pr", "perc", "ps", "es", "lexc", "prr", "prd", "qr", "qd", "f1", "f2", "f3", "f4", "qt"),
        network=dict(inputs=("hp", "ht", "pn", "en"), outputs=("f1", "f2", "f3", "f4")),
    ),
    "gr6_mlp": dict(
        parameters=("ci", "cp", "ct", "be", "kexc", "aexc"),
        states=("hi", "hp", "ht", "he"),
        fluxes=("pn", "en", "pr", "perc", "ps", "es", "lexc", "prr", "prd", "pre", "qr", "qd", "qe",
                "f1", "f2", "f3", "f4", "f5", "qt"),
        network=dict(inputs=("hp", "ht", "he", "pn", "en"), outputs=("f1", "f2", "f3", "f4", "f5")),
    ),
    "grc_mlp": dict(
        parameters=("ci", "cp", "ct", "cl", "kexc"),
        states=("hi", "hp", "ht", "hl"),
        fluxes=("pn", "en", "pr", "perc", "ps", "es", "lexc", "prr", "prd", "prl", "qr", "qd", "ql",
                "f1", "f2", "f3", "f4", "f5", "qt"),
        network=dict(inputs=("hp", "ht", "hl", "pn", "en"), outputs=("f1", "f2", "f3", "f4", "f5")),
    ),
    "grd_mlp": dict(
        parameters=("cp", "ct"),
        states=("hp", "ht"),
        fluxes=("ei", "pn", "en", "pr", "perc", "ps", "es", "prr", "qr", "f1", "f2", "qt"),
        network=dict(inputs=("hp", "ht", "pn", "en"), outputs=("f1", "f2")),
    ),
    "loieau_mlp": dict(
        parameters=("ca", "cc", "kb"),
        states=("ha", "hc"),
        fluxes=("ei", "pn", "en", "pr", "perc", "ps", "es", "prr", "prd", "qr", "qd", "f1", "f2", "f3", "qt"),
        network=dict(inputs=("ha", "hc", "pn", "en"), outputs=("f1", "f2", "f3")),
    ),
    "vic3l": dict(
        parameters=("b", "cusl", "cmsl", "cbsl", "ks", "pbc", "ds", "dsm", "ws"),
        states=("hcl", "husl", "hmsl", "hbsl"),
        fluxes=("pn", "en", "qr", "qb", "qt"),
    ),
}
ROUTING_MODULES = {
    "zero": dict(parameters=(), states=(), fluxes=("qup",)),
    "lag0": dict(parameters=(), states=(), fluxes=("qup",)),
    "lr": dict(parameters=("llr",), states=("hlr",), fluxes=("qup",)),
    "kw": dict(parameters=("akw", "bkw"), states=(), fluxes=("qup",)),
}


@dataclass(frozen=True)
class Structure:
    """A model structure: which snow, hydrological and routing operators run, and what they need.

    Parameters
    ----------
    name : str
        ``"snow-hydrological-routing"``, e.g. ``"zero-gr4-kw"``.

    Attributes
    ----------
    snow, hydrological, routing : str
        Module names.
    parameters, states : tuple of str
        Names in structure order (snow, hydrological, routing).
    fluxes : tuple of str
        Internal fluxes that a simulation can return.

    Examples
    --------
    >>> from skhydro.structures import get_structure
    >>> get_structure("zero-gr4-lr").parameters
    ('ci', 'cp', 'ct', 'kexc', 'llr')
    """

    name: str

    def __post_init__(self):
        parts = self.name.split("-") if isinstance(self.name, str) else []
        if len(parts) != 3:
            raise ValueError(
                f"structure must be a string 'snow-hydrological-routing' such as 'zero-gr4-kw', got {self.name!r}")
        for kind, part, known in zip(("snow", "hydrological", "routing"), parts,
                                     (SNOW_MODULES, HYDROLOGICAL_MODULES, ROUTING_MODULES)):
            if part not in known:
                raise ValueError(f"unknown {kind} module {part!r} in structure {self.name!r}; "
                                 f"available: {sorted(known)}")

    @property
    def snow(self):
        return self.name.split("-")[0]

    @property
    def hydrological(self):
        return self.name.split("-")[1]

    @property
    def routing(self):
        return self.name.split("-")[2]

    def _modules(self):
        return (SNOW_MODULES[self.snow], HYDROLOGICAL_MODULES[self.hydrological], ROUTING_MODULES[self.routing])

    @property
    def parameters(self):
        return tuple(p for m in self._modules() for p in m["parameters"])

    @property
    def states(self):
        return tuple(s for m in self._modules() for s in m["states"])

    @property
    def fluxes(self):
        return tuple(f for m in self._modules() for f in m["fluxes"])

    @property
    def is_hybrid(self):
        """Whether a flux-correction network runs inside the hydrological operator (``*_mlp``)."""
        return "network" in HYDROLOGICAL_MODULES[self.hydrological]

    @property
    def network_inputs(self):
        """Names of the flux-correction network's inputs (empty for a classical structure)."""
        return HYDROLOGICAL_MODULES[self.hydrological].get("network", {}).get("inputs", ())

    @property
    def network_outputs(self):
        """Names of the corrections it gives: f1 (infiltration ps), f2 (evaporation es), then the split's
        (f3; gr6_mlp and grc_mlp also f4, the share between their two stores) and the exchange's last (gr4_mlp,
        gr5_mlp: f4; gr6_mlp, grc_mlp: f5); grd_mlp has f1, f2 only, loieau_mlp f1..f3 (no exchange)."""
        return HYDROLOGICAL_MODULES[self.hydrological].get("network", {}).get("outputs", ())

    def default_parameters(self, dt):
        """Spatially uniform defaults for a time step of ``dt`` seconds (``llr`` scales with dt)."""
        values = {name: PARAMETERS[name].default for name in self.parameters}
        if "llr" in values:
            values["llr"] *= dt / 3600.0
        return values

    def default_states(self):
        """Default initial states."""
        return {name: STATES[name].default for name in self.states}

    def bounds(self):
        """Default optimisation bounds of the parameters and states, ``{name: (low, high)}``."""
        return {n: (PARAMETERS[n] if n in PARAMETERS else STATES[n]).bounds
                for n in self.parameters + self.states}


def get_structure(structure):
    """Return the :class:`Structure` for a name (or pass a :class:`Structure` through)."""
    return structure if isinstance(structure, Structure) else Structure(structure)


def variable(name):
    """The registry entry of a parameter or state name."""
    if name in PARAMETERS:
        return PARAMETERS[name]
    if name in STATES:
        return STATES[name]
    raise KeyError(name)
