from __future__ import annotations

import pytest

from .api_helpers import Api


@pytest.fixture
def api(jp_serverapp, http_server_client, jp_base_url, jp_auth_header) -> Api:
    return Api(http_server_client, jp_base_url, jp_auth_header)


@pytest.fixture
def services(jp_serverapp):
    return jp_serverapp.web_app.settings["mlws_services"]
