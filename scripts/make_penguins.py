"""Write examples/data/penguins.csv and examples/data/penguins_2027.csv.

A small, made-up dataset shaped like the Palmer penguins measurements (three species, three
islands, bill and flipper sizes, body mass, sex with a few missing values), so the
walkthrough in docs/FIRST_HOUR.md runs without network access. The values are drawn from
per-species normal distributions with a fixed seed; they are not the real measurements.
The second file is a later "season" in which body mass and bill length have shifted and a
few more values of `sex` are missing: the drift the walkthrough finds.

Run from the repository root: python3 scripts/make_penguins.py
"""

import csv
import random

SPECIES = {
    # name: (islands with weights, bill_length, bill_depth, flipper, body_mass) as (mean, sd)
    "Adelie": ({"Torgersen": 1, "Biscoe": 1, "Dream": 1}, (38.8, 2.7), (18.3, 1.2), (190.0, 6.5), (3700, 460)),
    "Chinstrap": ({"Dream": 1}, (48.8, 3.3), (18.4, 1.1), (196.0, 7.1), (3730, 380)),
    "Gentoo": ({"Biscoe": 1}, (47.5, 3.1), (15.0, 1.0), (217.0, 6.5), (5080, 500)),
}
COUNTS = {"Adelie": 152, "Chinstrap": 68, "Gentoo": 124}


def rows(rng, counts, mass_shift=0.0, bill_shift=0.0, missing_sex=11):
    out = []
    for species, n in counts.items():
        islands, bl, bd, fl, bm = SPECIES[species]
        names = list(islands)
        for _ in range(n):
            sex = rng.choice(["male", "female"])
            male = 1.0 if sex == "male" else -1.0
            out.append({
                "species": species,
                "island": rng.choice(names),
                "bill_length_mm": round(rng.gauss(bl[0] + bill_shift + 0.8 * male, bl[1]), 1),
                "bill_depth_mm": round(rng.gauss(bd[0] + 0.5 * male, bd[1]), 1),
                "flipper_length_mm": int(round(rng.gauss(fl[0] + 2.0 * male, fl[1]))),
                "body_mass_g": int(round(rng.gauss(bm[0] + mass_shift + 200 * male, bm[1]) / 25) * 25),
                "sex": sex,
            })
    rng.shuffle(out)
    for i in rng.sample(range(len(out)), missing_sex):
        out[i]["sex"] = ""
    for i in rng.sample(range(len(out)), 2):
        for k in ("bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"):
            out[i][k] = ""
    return out


def write(path, data):
    fields = ["species", "island", "bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g", "sex"]
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields, lineterminator="\n")
        w.writeheader()
        w.writerows(data)


if __name__ == "__main__":
    write("examples/data/penguins.csv", rows(random.Random(2007), COUNTS))
    later = {"Adelie": 90, "Chinstrap": 40, "Gentoo": 70}
    write("examples/data/penguins_2027.csv",
          rows(random.Random(2027), later, mass_shift=-450.0, bill_shift=1.5, missing_sex=14))
