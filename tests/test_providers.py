"""Online geocoding providers on recorded answers (tests/fixtures/geocode/, written from each
provider's documented response format): precision mappings, coordinate conversion by the
declared system, errors, keys. Never the network."""

from __future__ import annotations

import json
import sqlite3
import urllib.parse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gridcover._providers import (
    PROVIDERS,
    AMap,
    Baidu,
    GeopyProvider,
    Nominatim,
    Provider,
    ProviderRefused,
    ProviderUnavailable,
    Tianditu,
    make_provider,
    osm_precision,
)
from gridcover.config import Config
from gridcover.geocode import OnlineGeocoder, make_online_geocoder

FIXTURES = Path(__file__).parent / "fixtures" / "geocode"
TRUE = (118.510160, 26.510471)  # the WGS-84 point every recorded answer is about


def recorded(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


class Recorder:
    """A transport answering recorded bodies in turn and keeping what was asked."""

    def __init__(self, *names: str) -> None:
        self.bodies = [recorded(n) for n in names]
        self.calls: list[tuple[str, dict[str, str]]] = []

    def __call__(self, url: str, params: Mapping[str, str]) -> Any:
        self.calls.append((url, dict(params)))
        return self.bodies.pop(0)


def metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    return float(np.hypot((a[0] - b[0]) * 111320 * np.cos(np.radians(a[1])), (a[1] - b[1]) * 110574))


def online(provider: Any) -> OnlineGeocoder:
    return OnlineGeocoder(provider, min_delay_s=0, backoff_s=0)


# ------------------------------------------------------------------------------- AMap
@pytest.mark.parametrize(("fixture", "precision"), [
    ("amap_village.json", "village"), ("amap_doorplate.json", "village"), ("amap_township.json", "township"),
    ("amap_county.json", None)])
def test_amap_precision_by_level(fixture, precision):
    answer = AMap("k", fetch=Recorder(fixture)).lookup("青岚县城关街道高寮村")
    assert answer is not None and answer.precision == precision


def test_amap_answers_in_gcj02_are_converted_to_wgs84():
    fetch = Recorder("amap_village.json")
    geo = online(AMap("secret-amap-key", city="南平", fetch=fetch))
    lon, lat, precision = geo.lookup("青岚县城关街道高寮村")
    assert precision == "village"
    assert metres((lon, lat), TRUE) < 0.5  # converted from GCJ-02 by the declared system
    raw = tuple(float(v) for v in recorded("amap_village.json")["geocodes"][0]["location"].split(","))
    assert metres(raw, TRUE) > 300  # taken as WGS-84, the point would be hundreds of metres off
    url, params = fetch.calls[0]
    assert url == "https://restapi.amap.com/v3/geocode/geo"
    assert params == {"address": "青岚县城关街道高寮村", "key": "secret-amap-key", "output": "JSON", "city": "南平"}


def test_amap_empty_refused_and_busy():
    assert AMap("k", fetch=Recorder("amap_empty.json")).lookup("x") is None
    with pytest.raises(ProviderRefused, match="INVALID_USER_KEY"):
        AMap("k", fetch=Recorder("amap_invalid_key.json")).lookup("x")
    with pytest.raises(ProviderUnavailable, match="CUQPS"):
        AMap("k", fetch=Recorder("amap_qps.json")).lookup("x")


def test_a_refused_key_stops_online_geocoding_and_a_busy_server_is_retried():
    fetch = Recorder("amap_invalid_key.json", "amap_village.json")
    geo = online(AMap("k", fetch=fetch))
    assert geo.lookup("甲") is None and geo.lookup("乙") is None
    assert len(fetch.calls) == 1  # stopped after the refusal
    fetch = Recorder("amap_qps.json", "amap_village.json")
    geo = online(AMap("k", fetch=fetch))
    assert geo.lookup("甲")[2] == "village" and len(fetch.calls) == 2


# ------------------------------------------------------------------------------- Tianditu
@pytest.mark.parametrize(("fixture", "precision"), [
    ("tianditu_doorplate.json", "village"), ("tianditu_place.json", "village"),
    ("tianditu_low_score.json", "township"), ("tianditu_township.json", "township"),
    ("tianditu_county.json", None)])
def test_tianditu_precision_by_level_and_score(fixture, precision):
    answer = Tianditu("k", fetch=Recorder(fixture)).lookup("x")
    assert answer is not None and answer.precision == precision


def test_tianditu_answers_in_cgcs2000_are_taken_as_wgs84_and_the_query_is_json():
    fetch = Recorder("tianditu_place.json")
    geo = online(Tianditu("tk-secret", fetch=fetch))
    lon, lat, _ = geo.lookup("福建省青岚县 城关街道高寮村")
    assert metres((lon, lat), TRUE) < 0.05  # no shift: CGCS2000 ≈ WGS-84
    url, params = fetch.calls[0]
    assert url == "https://api.tianditu.gov.cn/geocoder" and params["tk"] == "tk-secret"
    assert json.loads(params["ds"]) == {"keyWord": "福建省青岚县城关街道高寮村"}
    assert Tianditu("k", fetch=Recorder("tianditu_empty.json")).lookup("x") is None


# ------------------------------------------------------------------------------- Baidu
@pytest.mark.parametrize(("fixture", "precision"), [
    ("baidu_precise.json", "village"), ("baidu_village_fuzzy_ok.json", "village"),
    ("baidu_village_fuzzy.json", "township"), ("baidu_township.json", "township"), ("baidu_city.json", None)])
def test_baidu_precision_by_level_precise_and_confidence(fixture, precision):
    answer = Baidu("k", fetch=Recorder(fixture)).lookup("x")
    assert answer is not None and answer.precision == precision


def test_baidu_answers_in_bd09_are_converted_and_errors_are_told_apart():
    fetch = Recorder("baidu_precise.json")
    lon, lat, _ = online(Baidu("ak-secret", fetch=fetch)).lookup("青岚县城关街道人民路8号")
    assert metres((lon, lat), TRUE) < 0.5
    result = recorded("baidu_precise.json")["result"]["location"]
    assert metres((result["lng"], result["lat"]), TRUE) > 800  # BD-09 taken raw: far off
    assert fetch.calls[0][1] == {"address": "青岚县城关街道人民路8号", "output": "json", "ak": "ak-secret"}
    assert Baidu("k", fetch=Recorder("baidu_no_result.json")).lookup("x") is None
    with pytest.raises(ProviderRefused, match="AK有误"):
        Baidu("k", fetch=Recorder("baidu_ak_invalid.json")).lookup("x")


# ------------------------------------------------------------------------------- Nominatim
class RecordedAdapter:
    """A geopy adapter answering a recorded Nominatim body (geopy parses it)."""

    urls: list[str] = []

    def __init__(self, fixture: str) -> None:
        self.fixture = fixture

    def __call__(self, *, proxies: Any, ssl_context: Any) -> Any:
        from geopy.adapters import BaseSyncAdapter

        fixture, urls = self.fixture, self.urls

        class Adapter(BaseSyncAdapter):
            def get_json(self, url: str, *, timeout: Any, headers: Any) -> Any:
                urls.append(url)
                return recorded(fixture)

            def get_text(self, url: str, *, timeout: Any, headers: Any) -> str:  # pragma: no cover
                raise NotImplementedError

        return Adapter(proxies=proxies, ssl_context=ssl_context)


@pytest.mark.parametrize(("fixture", "precision"), [
    ("nominatim_village.json", "village"), ("nominatim_road.json", "village"),
    ("nominatim_town.json", "township"), ("nominatim_county.json", None), ("nominatim_empty.json", "missing")])
def test_nominatim_through_geopy_precision_by_addresstype(fixture, precision):
    geopy = pytest.importorskip("geopy.geocoders")
    adapter = RecordedAdapter(fixture)
    provider = Nominatim("gridcover-test", geocoder=geopy.Nominatim(user_agent="gridcover-test",
                                                                    adapter_factory=adapter))
    answer = provider.lookup("青岚县城关街道高寮村")
    if precision == "missing":
        assert answer is None
    else:
        assert answer is not None and answer.precision == precision
        assert metres((answer.lon, answer.lat), TRUE) < 0.05  # WGS-84 already
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(adapter.urls[-1]).query)
    assert query["countrycodes"] == ["cn"] and query["q"] == ["青岚县城关街道高寮村"]


def test_osm_precision_falls_back_to_class_type_and_rank():
    assert osm_precision({"class": "place", "type": "hamlet"}) == "village"
    assert osm_precision({"type": "administrative", "place_rank": 12}) is None
    assert osm_precision({"place_rank": 20}) == "village"
    assert osm_precision({"level": "区县"}) is None  # a geopy Baidu raw answer


# ------------------------------------------------------------------------------- registry, keys
def test_registry_declares_each_providers_coordinate_system():
    assert {n: s.crs for n, s in PROVIDERS.items()} == {
        "amap": "gcj02", "tianditu": "wgs84", "baidu": "bd09", "baiduv3": "bd09", "nominatim": "wgs84"}
    for name in ("amap", "tianditu", "baidu"):
        p = make_provider(name, key="k")
        assert isinstance(p, Provider) and p.crs == PROVIDERS[name].crs and p.name == name
    assert make_provider("baiduv3", key="k").name == "baiduv3"


def test_a_geopy_like_object_is_converted_by_the_declared_system_not_its_class_name():
    from gridcover.coords import wgs84_to_gcj02

    g = [float(v) for v in wgs84_to_gcj02(*TRUE)]

    class Location:
        longitude, latitude, raw = g[0], g[1], {"addresstype": "village"}

    class BaiduLookalike:  # the name says Baidu, the answers are GCJ-02
        def geocode(self, query: str, **kw: Any) -> Location:
            return Location()

    lon, lat, _ = OnlineGeocoder(BaiduLookalike(), crs="gcj02", min_delay_s=0).lookup("x")
    assert metres((lon, lat), TRUE) < 0.5
    with pytest.raises(ValueError, match="answers in gcj02, not wgs84"):
        OnlineGeocoder(AMap("k"), crs="wgs84")
    assert GeopyProvider(BaiduLookalike()).crs == "wgs84"  # never guessed from the name


def test_keys_come_from_the_environment_or_config_and_never_reach_run_json(monkeypatch, tmp_path):
    for var in ("GRIDCOVER_AMAP_KEY", "GRIDCOVER_TIANDITU_KEY", "GRIDCOVER_BAIDU_KEY", "GRIDCOVER_GEOCODER_KEY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("GRIDCOVER_TIANDITU_KEY", "tk-from-env")
    geo = make_online_geocoder(Config(online_geocoder="tianditu"), cache_path=tmp_path / "c.sqlite")
    assert geo.provider.key == "tk-from-env" and geo.crs == "wgs84"
    assert "tk-from-env" not in repr(geo.provider)
    geo.close()
    config = Config(online_geocoder="amap", geocoder_api_key="cfg-amap-key-123", tianditu_key="tk-map-456")
    geo = make_online_geocoder(config, cache_path=tmp_path / "c.sqlite")
    assert geo.provider.key == "cfg-amap-key-123"
    geo.close()
    recorded_config = json.dumps(config.to_dict(), ensure_ascii=False)
    assert "cfg-amap-key-123" not in recorded_config and "tk-map-456" not in recorded_config
    assert config.to_dict()["geocode"]["online_geocoder"] == "amap"
    assert Config.from_dict(config.to_dict(secrets=True)) == config


def test_the_key_is_in_no_output_file_and_not_in_the_cache(monkeypatch, tmp_path):
    """A plan run with an online provider configured by key: no written file holds the key."""
    from gridcover import datasets
    from gridcover.outputs import write_plan
    from gridcover.pipeline import Inputs, run

    key = "cfg-amap-key-7f3e9"
    fetch = Recorder(*["amap_village.json"] * 400)
    config = Config(online_geocoder="amap", geocoder_api_key=key, geocode_cache=str(tmp_path / "cache.sqlite"),
                    geocode_min_delay_s=0.0)
    geo = OnlineGeocoder(make_provider("amap", key=key, fetch=fetch), cache_path=tmp_path / "cache.sqlite",
                         min_delay_s=0)
    inputs = Inputs(ledger=datasets.get_path("ledger"), townships=datasets.get_path("townships"),
                    parks=datasets.get_path("parks"))  # no gazetteer: address rows go online
    plan = run(inputs, config=config, geocoder=geo)
    out = tmp_path / "out"
    write_plan(plan, out)
    assert fetch.calls and all(p["key"] == key for _, p in fetch.calls)  # the key went to the provider
    for path in [*out.rglob("*"), tmp_path / "cache.sqlite"]:
        if path.is_file():
            assert key.encode() not in path.read_bytes(), path
    run_json = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert run_json["config"]["geocode"]["geocoder_api_key"] is None
    with sqlite3.connect(tmp_path / "cache.sqlite") as db:
        assert db.execute("SELECT DISTINCT provider FROM geocode").fetchall() == [("amap",)]


def test_geocode_takes_a_provider_and_places_its_answer_in_the_right_township(tmp_path):
    """A provider passed to geocode() is wrapped with the configured cache; its GCJ-02
    answer lands in the township that holds the true point."""
    from gridcover import datasets
    from gridcover.geocode import geocode
    from gridcover.jurisdictions import load_jurisdictions
    from gridcover.ledger import Ledger
    from gridcover.schema import LEDGER_COLUMNS

    row = {"source_row": 2, "name": "甲公司", "address": "不在地名表的某某路8号", "lon_src": np.nan, "lat_src": np.nan,
           "crs": "wgs84", "township_declared": "", "village": "", "park_declared": "", "industry": "C", "staff": 10,
           "fixed_premises": True, "above_scale": False, "members": 0, "probationary": 0, "org_type": "none",
           "org_name": "", "org_level": "", "instructor": "", "investor_member": False}
    import pandas as pd

    frame = pd.DataFrame([{"uscc": "A", **row}]).set_index("uscc")[list(LEDGER_COLUMNS)]
    juris = load_jurisdictions(datasets.get_path("townships"), datasets.get_path("parks"))
    config = Config(geocode_cache=str(tmp_path / "g.sqlite"), geocode_min_delay_s=0.0)
    out = geocode(Ledger(enterprises=frame, n_rows=1), juris, config=config,
                  geocoder=AMap("k", fetch=Recorder("amap_village.json")))
    e = out.enterprises.loc["A"]
    assert e["precision"] == "village" and metres((e["lon"], e["lat"]), TRUE) < 0.5
    assert e["township"] == juris.locate([TRUE[0]], [TRUE[1]])[0][0]
    assert (tmp_path / "g.sqlite").exists()
