"""Generation throughput: marketing_core vs the generators a user would write instead.

Contenders, each writing the same six files for one day (same columns, formats and
referential integrity, facts skewed over the dimensions):
- marketing_core   the Rust generator (``generate_day``)
- faker+pandas     the seed pipeline's style: Faker per value, rows as dicts, pandas writers
- mimesis+pandas   the same with mimesis, the fast pure-Python faker

Each contender runs in its own subprocess (clean memory accounting). Prints rows/s, peak
RSS and the ratio to marketing_core. Usage: ``python bench/bench_generate.py --scale 0.2``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid

DS = "2025-05-25"
BASE_ROWS = {"contacts": 100_000, "form_fills": 50_000, "website_activity": 500_000}
INDUSTRIES = ["Technology", "Finance", "Healthcare", "Education", "Retail"]
LEAD_SOURCES = ["Web", "Email", "Event", "Referral", "Organic Search", "Paid Social"]
EVENT_TYPES = ["page_view", "form_submit", "click", "download", "video_play"]
FORM_TYPES = ["Contact Us", "Demo Request", "Newsletter Signup", "Webinar Registration",
              "Ebook Download", "Free Trial", "Pricing Inquiry", "Event Registration"]
PAGES = [(f"/page-{i}", f"Page {i}") for i in range(1, 31)]
REFERRERS = ["google.com", "bing.com", "linkedin.com", "twitter.com", "direct", "reddit.com"]


def skew_weights(n: int) -> list[float]:
    hot, warm = max(1, round(n * 0.2)), max(2, round(n * 0.5))
    return [0.7 / hot if i < hot else 0.2 / (warm - hot) if i < warm else 0.1 / (n - warm) for i in range(n)]


def rows_for(scale: float) -> dict[str, int]:
    return {k: max(1, round(v * scale)) for k, v in BASE_ROWS.items()}


def python_day(fake_person, out: str, scale: float, seed: int) -> int:
    """The seed-style generator, parameterised by a provider of names/companies/emails."""
    import pandas as pd

    rnd = random.Random(seed)
    day = dt.date.fromisoformat(DS)
    n = rows_for(scale)
    campaigns = pd.DataFrame({"campaign_id": [f"CMP-{i:03}" for i in range(1, 21)],
                              "campaign_name": [f"Campaign {i}" for i in range(1, 21)]})
    forms = pd.DataFrame({"form_id": [f"FRM-{i:02}" for i in range(1, 9)], "form_type": FORM_TYPES})
    pages = pd.DataFrame({"page_id": [f"PG-{i:03}" for i in range(1, 31)],
                          "page_url": [p[0] for p in PAGES], "page_title": [p[1] for p in PAGES]})
    for name, df in (("campaigns", campaigns), ("forms", forms), ("pages", pages)):
        df.to_json(os.path.join(out, f"{name}_{DS}.json"), orient="records", lines=True)

    contacts = []
    for i in range(n["contacts"]):
        first, last, company, job, country = fake_person()
        contacts.append({
            "contact_id": str(uuid.UUID(int=rnd.getrandbits(128), version=4)),
            "first_name": first, "last_name": last,
            "email": f"{first.lower()}.{last.lower()}{i + 1}@example.com",
            "company": company, "industry": rnd.choice(INDUSTRIES),
            "lead_source": rnd.choice(LEAD_SOURCES), "job_title": job, "country": country,
            "opted_in": rnd.random() < 0.62,
            "signup_date": dt.datetime.combine(day, dt.time()) + dt.timedelta(seconds=rnd.randrange(86_400)),
        })
    contacts_df = pd.DataFrame(contacts)
    contacts_df.to_csv(os.path.join(out, f"contacts_{DS}.csv"), index=False)
    contact_ids = contacts_df["contact_id"].tolist()

    cw, fw, pw = skew_weights(20), skew_weights(8), skew_weights(30)
    fills = []
    for _ in range(n["form_fills"]):
        u = rnd.random()
        fills.append({
            "fill_id": str(uuid.UUID(int=rnd.getrandbits(128), version=4)),
            "form_id": rnd.choices(forms["form_id"], fw)[0],
            "contact_id": rnd.choice(contact_ids),
            "campaign_id": rnd.choices(campaigns["campaign_id"], cw)[0],
            "fill_date": day, "referrer_url": "https://www.google.com/",
            "user_agent": "Mozilla/5.0", "estimated_value": round(100 + 9900 * u ** 3, 2),
        })
    pd.DataFrame(fills).to_parquet(os.path.join(out, f"form_fills_{DS}.parquet"), index=False)

    sessions = []
    for _ in range(n["website_activity"]):
        p = rnd.choices(range(30), pw)[0]
        pv = 1 if rnd.random() < 0.38 else rnd.randint(2, 12)
        sessions.append({
            "session_id": str(uuid.UUID(int=rnd.getrandbits(128), version=4)),
            "contact_id": rnd.choice(contact_ids),
            "campaign_id": rnd.choices(campaigns["campaign_id"], cw)[0],
            "page_id": pages["page_id"][p], "page_url": PAGES[p][0], "page_title": PAGES[p][1],
            "event_date": DS, "event_type": rnd.choice(EVENT_TYPES),
            "session_duration": round(rnd.expovariate(1 / 120), 2), "pages_viewed": pv,
            "bounce": pv == 1, "referrer_domain": rnd.choice(REFERRERS),
        })
    pd.DataFrame(sessions).to_json(os.path.join(out, f"website_activity_{DS}.json"), orient="records", lines=True)
    return sum(n.values()) + 58


def run_faker(out: str, scale: float, seed: int) -> int:

    fake = Faker()
    Faker.seed(seed)
    return python_day(lambda: (fake.first_name(), fake.last_name(), fake.company(), fake.job(), fake.country()),
                      out, scale, seed)


def run_mimesis(out: str, scale: float, seed: int) -> int:
    person, finance, address = Person(Locale.EN, seed=seed), Finance(Locale.EN, seed=seed), Address(Locale.EN, seed=seed)
    return python_day(lambda: (person.first_name(), person.last_name(), finance.company(), person.occupation(),
                               address.country()), out, scale, seed)


def run_marketing_core(out: str, scale: float, seed: int) -> int:
    return mc.generate_day(DS, out, scale_factor=scale, seed=seed, force=True).rows


CONTENDERS = {"marketing_core": run_marketing_core, "faker+pandas": run_faker, "mimesis+pandas": run_mimesis}


def child(name: str, scale: float, seed: int) -> None:
    # Imports happen before the clock starts (pandas, pyarrow, Faker data all load here).
    global Faker, Person, Finance, Address, Locale, mc
    import pandas  # noqa: F401
    import pyarrow  # noqa: F401
    if name == "faker+pandas":
        from faker import Faker
    elif name == "mimesis+pandas":
        from mimesis import Address, Finance, Person
        from mimesis.locales import Locale
    else:
        import marketing_core as mc
    out = tempfile.mkdtemp(prefix=f"bench-gen-{name.replace('+', '-')}-")
    try:
        start = time.perf_counter()
        rows = CONTENDERS[name](out, scale, seed)
        seconds = time.perf_counter() - start
        size = sum(os.path.getsize(os.path.join(out, f)) for f in os.listdir(out) if f.endswith(("csv", "json", "parquet")))
    finally:
        shutil.rmtree(out, ignore_errors=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"name": name, "rows": rows, "seconds": seconds, "bytes": size, "peak_kib": peak}))


def measure(name: str, scale: float, seed: int) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--child", name, "--scale", str(scale), "--seed", str(seed)],
                          capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--scale", type=float, default=0.2, help="scale for every contender (same rows)")
    ap.add_argument("--ours-scale", type=float, default=1.0, help="extra marketing_core run at a larger scale")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--child")
    args = ap.parse_args(argv)
    if args.child:
        child(args.child, args.scale, args.seed)
        return
    results = [measure(name, args.scale, args.seed) for name in CONTENDERS]
    ours = results[0]
    big = measure("marketing_core", args.ours_scale, args.seed) if args.ours_scale != args.scale else None
    print(f"\nGeneration: one day, six files, scale {args.scale} ({ours['rows']:,} rows), same formats for all")
    print(f"{'contender':<18}{'rows/s':>14}{'peak RSS':>12}{'marketing_core is':>22}")
    for r in results:
        rate = r["rows"] / r["seconds"]
        ratio = (ours["rows"] / ours["seconds"]) / rate
        print(f"{r['name']:<18}{rate:>14,.0f}{r['peak_kib'] / 1024:>10.0f} MiB{ratio:>20.1f}x")
    if big:
        rate = big["rows"] / big["seconds"]
        print(f"marketing_core at scale {args.ours_scale}: {big['rows']:,} rows, {rate:,.0f} rows/s, "
              f"peak {big['peak_kib'] / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
