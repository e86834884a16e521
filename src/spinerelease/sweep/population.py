"""Populations of bodies sampled from published anthropometric distributions (ANSUR II, Gordon et al. 2014)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .. import params
from ..anatomy import Body
from ..errors import InputError, check_range


@dataclass(frozen=True)
class Person:
    """One sampled body, with a stable id."""

    id: int
    sex: str
    stature_cm: float
    mass_kg: float
    age_years: float

    def body(self) -> Body:
        return Body(self.stature_cm, self.mass_kg, self.sex, None, self.age_years)

    def as_dict(self) -> dict:
        return asdict(self)


def sample_population(n: int, seed: int = 0, female_fraction: float = 0.5) -> list[Person]:
    """Sample ``n`` bodies: sex by ``female_fraction``; stature and log-mass bivariate normal by sex.

    Log-normal mass keeps the sample positive and right-skewed like measured masses; its parameters match the
    survey's mean and SD of mass. Bodies outside the model's validity (BMI 12-70, stature 120-220 cm) are
    redrawn. The same ``seed`` gives the same population.

    References
    ----------
    Gordon CC et al. (2014). 2012 Anthropometric Survey of U.S. Army Personnel: Methods and Summary
    Statistics. NATICK/TR-15/007.
    """
    if int(n) != n or n < 1 or n > 1_000_000:
        raise InputError(f"population size must be a whole number from 1 to 1,000,000, got {n}")
    check_range("female fraction", female_fraction, 0, 1)
    p = params.load("population")
    rng = np.random.default_rng(seed)
    age_lo, age_hi = (float(v) for v in p.value("age_range"))
    out: list[Person] = []
    i = 0
    while len(out) < n:
        sex = "female" if rng.random() < female_fraction else "male"
        k = 1 if sex == "female" else 0
        ms, ss = float(p.value("stature_mean")[k]), float(p.value("stature_sd")[k])
        mm, sm = float(p.value("mass_mean")[k]), float(p.value("mass_sd")[k])
        rho = float(p.value("stature_mass_correlation")[k])
        s2 = np.log(1 + (sm / mm) ** 2)  # log-normal parameters matching mean and SD
        mu_l = np.log(mm) - s2 / 2
        z1, z2 = rng.standard_normal(2)
        stature = ms + ss * z1
        mass = float(np.exp(mu_l + np.sqrt(s2) * (rho * z1 + np.sqrt(1 - rho**2) * z2)))
        age = float(rng.uniform(age_lo, age_hi))
        try:
            Body(stature, mass, sex, None, age)
        except InputError:
            continue
        out.append(Person(i, sex, round(float(stature), 2), round(mass, 2), round(age, 1)))
        i += 1
    return out
