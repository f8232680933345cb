"""The CORS allow-list: MinIO's origin matching, and where the list comes from
(config key, MINIO_API_CORS_ALLOW_ORIGIN, S3GW_API_CORS_ALLOW_ORIGIN, serve flag)."""

from __future__ import annotations

import pytest

from s3gw import config
from s3gw.api.cors import origin_allowed
from s3gw.cli import build_parser, serve_config


def test_origin_patterns() -> None:
    allowed = ["https://app.example", "https://*.cdn.example", "http://localhost:*"]
    for origin in ("https://app.example", "https://a.cdn.example", "https://a.b.cdn.example", "http://localhost:3000"):
        assert origin_allowed(origin, allowed), origin
    for origin in (
        "https://APP.example",
        "https://app.example.evil",
        "https://cdn.example",
        "",
        "null",
        "https://app.exampl",
    ):
        assert not origin_allowed(origin, allowed), origin
    assert origin_allowed("anything at all", ["*"]) and not origin_allowed("x", [])
    assert origin_allowed("https://a.b", ["https://a.b"]) and not origin_allowed("https://aXb", ["https://a.b"])


def test_where_the_list_comes_from(tmp_path, monkeypatch) -> None:
    assert config.load(None, {})["api.cors_allow_origin"] == ["*"]
    f = tmp_path / "c.yaml"
    f.write_text("api:\n  cors_allow_origin: [https://a.example, 'https://*.b.example']\n")
    assert config.load(str(f), {})["api.cors_allow_origin"] == ["https://a.example", "https://*.b.example"]
    conf = config.load(str(f), {"MINIO_API_CORS_ALLOW_ORIGIN": "https://m.example,https://n.example"})
    assert conf["api.cors_allow_origin"] == ["https://m.example", "https://n.example"]
    conf = config.load(None, {"MINIO_API_CORS_ALLOW_ORIGIN": "https://m.example", "S3GW_API_CORS_ALLOW_ORIGIN": "*"})
    assert conf["api.cors_allow_origin"] == ["*"] and conf.source["api.cors_allow_origin"].endswith(
        "S3GW_API_CORS_ALLOW_ORIGIN"
    )
    assert config.load(None, {"MINIO_API_CORS_ALLOW_ORIGIN": ""})["api.cors_allow_origin"] == ["*"]  # MinIO's default
    with pytest.raises(config.ConfigError, match="api.cors_allow_origin: an empty origin"):
        config.load(None, {"MINIO_API_CORS_ALLOW_ORIGIN": "https://a.example,,https://b.example"})
    for name in ("MINIO_API_CORS_ALLOW_ORIGIN", "S3GW_API_CORS_ALLOW_ORIGIN", "S3GW_CONFIG", "CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    args = build_parser().parse_args(["serve", "--data", str(tmp_path), "--cors-allow-origin", "https://x.example"])
    assert serve_config(args).cors_allow_origins == ("https://x.example",)
    assert serve_config(build_parser().parse_args(["serve", "--data", str(tmp_path)])).cors_allow_origins == ("*",)
