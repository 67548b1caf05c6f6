"""`/mlws/api/v1/endpoints/...`: scoring endpoints over REST (issue 8).

- `GET/POST /endpoints`; `GET/PATCH/DELETE /endpoints/{name}`
- `POST /endpoints/{name}/keys/{primary|secondary}` (regenerate)
- `POST /endpoints/{name}/score` (the panel's "Try it" box: relayed to the endpoint)
- `GET /endpoints/{name}/logs?lines=200` (what the replicas printed last, serving/logs.py)

Who calls what: the panel's Endpoints tab calls these; the handlers call `server/endpoints.py`,
which deploys, changes and deletes through `ws.endpoints` (client/endpoints.py) with this
server's `EndpointManager` (serving/manager.py, started by app.py) running the replicas.

Decisions (RELIABILITY A7): the plaintext keys appear in exactly two answers — the deploy
that created the endpoint and a key regeneration — and never in a GET, a log line or an error;
the store keeps only their hashes, and no answer model here has a field for the hashes.
Scoring happens on the endpoint's own port (`url`), with its keys; a scoring key is not a
Jupyter token, so it opens none of these routes. A POST for an existing endpoint with a new
`deployment` name adds that deployment (blue/green): 201 again, with `keys` null. PATCH
`deployments` replaces the list (each model reference resolved on the server: a client never
names the sha256 a replica loads); `state`, `owner` and `stats` belong to the endpoint manager
and cannot be set over HTTP. Deploy waits
until the replicas are ready (or failed), so the answer says whether scoring works.
`timeout_seconds` is bounded (`validation.validate_timeout_seconds`: 0.1 to 600 s): a negative
one made every request fail and a huge one meant no timeout at all.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

from ...errors import InvalidParameter, Unavailable
from ...serving.logs import MAX_LINES
from ..endpoints import EndpointService, parse_key_name
from .base import route
from .registry_base import RegistryHandler

_TAGS = ("endpoints",)


# ----- answers -------------------------------------------------------------------------------
class DeploymentModel(BaseModel):
    """A model version behind an endpoint, with its share of the traffic."""

    name: str = Field(description="The deployment's name, e.g. 'blue'.")
    model: str = Field(description="The reference deployed: 'name', 'name:3' or 'name@alias'.")
    version: int = Field(description="The version served now (an alias move redeploys).")
    traffic: int = Field(description="Percent of the requests (all deployments sum to 100).")
    sha256: str


class EndpointModel(BaseModel):
    """A scoring endpoint (never with key material)."""

    name: str
    url: str | None = Field(
        None, description="The endpoint's base URL (GET {url}/healthz, /ready); null until a port is picked."
    )
    scoring_url: str | None = Field(None, description="{url}/score: POST JSON or CSV here with a key.")
    state: str = Field(description="creating, running, updating, failed or stopped.")
    state_reason: str | None = None
    replicas: int
    host: str
    port: int | None = None
    deployments: list[DeploymentModel]
    owner: str | None = Field(None, description="'host:pid' of the endpoint manager running it.")
    owner_heartbeat: int | None = Field(None, description="The manager's last sign of life (ms).")
    stats: dict[str, Any] = Field(
        default_factory=dict, description="requests, errors, p50_ms, p90_ms, p99_ms, per_deployment."
    )
    timeout_seconds: float
    max_body_bytes: int
    description: str = ""
    tags: dict[str, str] = Field(default_factory=dict)
    created_time: int
    updated_time: int

    @classmethod
    def of(cls, endpoint: Any, url: str | None) -> EndpointModel:
        fields = endpoint.to_dict()  # without the key hashes
        scoring = f"{url}/score" if url else None
        return cls(**{k: v for k, v in fields.items() if k in cls.model_fields}, url=url, scoring_url=scoring)


class EndpointKeys(BaseModel):
    primary: str
    secondary: str


class EndpointCreated(EndpointModel):
    """The deploy answer: the only time both keys are shown (the store keeps their hashes)."""

    keys: EndpointKeys | None = Field(
        None,
        description="The plaintext keys, shown once when the endpoint is created; null when a "
        "deployment was added to an existing endpoint.",
    )


class EndpointList(BaseModel):
    endpoints: list[EndpointModel]


class KeyRegenerated(BaseModel):
    endpoint: str
    key_name: str = Field(description="primary or secondary")
    key: str = Field(description="The new key, shown once; the old one stops working within a second.")


class EndpointLogs(BaseModel):
    """The replicas' recent log lines (Azure ML's `service.get_logs()`)."""

    endpoint: str
    lines: int = Field(description="How many lines were asked for (the text may hold fewer).")
    text: str = Field(description="The lines, oldest first, each stamped with UTC time and replica pid.")


class LogsQuery(BaseModel):
    lines: int | None = Field(None, ge=1, le=MAX_LINES, description="Default 200.")


class ScoreAnswer(BaseModel):
    """What an endpoint answers to a scoring request (errors: `{"error", "message"}`)."""

    predictions: list[Any]
    deployment: str = Field(description="The deployment that answered (blue/green).")
    version: int


# ----- bodies --------------------------------------------------------------------------------
class DeployEndpoint(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(description="Lowercase letters, digits and '-', at most 63 characters.")
    model: str = Field(description="'name' (latest), 'name:3' or 'name@alias' (follows the alias).")
    replicas: StrictInt | None = Field(None, description="Default: 1 for a new endpoint, else unchanged.")
    deployment: str = Field("blue", description="The deployment's name; another name adds a deployment.")
    traffic: StrictInt | None = Field(None, description="This deployment's percent of the requests.")
    port: StrictInt | None = Field(None, description="Default: a free port, kept across restarts.")
    timeout_seconds: StrictFloat | StrictInt | None = None


class DeploymentSpec(BaseModel):
    """A deployment as PATCH sets it: the server resolves `model` to its version and sha256."""

    model_config = ConfigDict(extra="ignore")  # version and sha256 are the server's to resolve
    name: str
    model: str = Field(description="'name', 'name:3' or 'name@alias'.")
    traffic: StrictInt = Field(description="Percent of the requests; all deployments sum to 100.")


class UpdateEndpoint(BaseModel):
    """Only the fields given change; the answer comes once the endpoint runs the change."""

    model_config = ConfigDict(extra="forbid")
    replicas: StrictInt | None = None
    traffic: dict[str, StrictInt] | None = Field(None, description="deployment -> percent, summing to 100.")
    deployments: list[DeploymentSpec] | None = Field(
        None, description="Replaces the deployments (add green, remove blue, re-point one)."
    )
    description: str | None = None
    tags: dict[str, str] | None = None


# ----- handlers ------------------------------------------------------------------------------
class EndpointsHandler(RegistryHandler):
    """What the endpoint handlers share: the server-side endpoint service (server/endpoints.py)."""

    auth_resource = "mlws:endpoints"
    needs_extension = True
    change_action = "endpoint_changed"

    @property
    def endpoints(self) -> EndpointService:
        return EndpointService.of(self.services, self.settings)

    def answer(self, endpoint: Any) -> EndpointModel:
        return EndpointModel.of(endpoint, self.endpoints.endpoint_url(endpoint))


class EndpointListHandler(EndpointsHandler):
    @route("List endpoints", response=EndpointList, errors=(403, 503), tags=_TAGS)
    async def get(self) -> None:
        found = await self.services.run(self.endpoints.list_endpoints)
        self.write_model(EndpointList(endpoints=[self.answer(e) for e in found]))

    @route(
        "Deploy a model to an endpoint (created with its keys, or a deployment added to it)",
        body=DeployEndpoint,
        response=EndpointCreated,
        status=201,
        errors=(400, 403, 404, 409, 503),
        tags=_TAGS,
    )
    async def post(self) -> None:
        body = self.parse_body(DeployEndpoint)
        options = body.model_dump(exclude={"name"})
        endpoint, keys = await self.change(self.endpoints.deploy, body.name, **options)
        answer = EndpointCreated(
            **self.answer(endpoint).model_dump(), keys=EndpointKeys(**keys) if keys else None
        )
        self.set_header("Cache-Control", "no-store")  # key material: no cache keeps a copy
        self.write_model(answer, status=201)


class EndpointHandler(EndpointsHandler):
    @route("An endpoint (no key material)", response=EndpointModel, errors=(403, 404, 503), tags=_TAGS)
    async def get(self, name: str) -> None:
        self.write_model(self.answer(await self.services.run(self.endpoints.get_endpoint, name)))

    @route(
        "Change an endpoint's replicas, traffic split, description or tags (waits until running)",
        body=UpdateEndpoint,
        response=EndpointModel,
        errors=(400, 403, 404, 409, 503),
        tags=_TAGS,
    )
    async def patch(self, name: str) -> None:
        given = self.parse_changes(UpdateEndpoint)
        updated = await self.change(self.endpoints.update_endpoint, name, **given)
        self.write_model(self.answer(updated))

    @route("Delete an endpoint (its replicas stop)", status=204, errors=(403, 404, 503), tags=_TAGS)
    async def delete(self, name: str) -> None:
        await self.change(self.endpoints.delete_endpoint, name)
        self.write_no_content()


class EndpointKeyHandler(EndpointsHandler):
    @route(
        "Regenerate the primary or secondary key (the new key is shown once)",
        response=KeyRegenerated,
        errors=(400, 403, 404, 503),
        tags=_TAGS,
    )
    async def post(self, name: str, key_name: str) -> None:
        which = parse_key_name(key_name)
        key = await self.change(self.endpoints.regenerate_key, name, which)
        self.set_header("Cache-Control", "no-store")  # key material: no cache keeps a copy
        self.write_model(KeyRegenerated(endpoint=name, key_name=which, key=key))


class EndpointLogsHandler(EndpointsHandler):
    @route(
        "The last lines its replicas wrote (entry script prints, warnings, failed requests' tracebacks)",
        query=LogsQuery,
        response=EndpointLogs,
        errors=(400, 403, 404, 503),
        tags=_TAGS,
    )
    async def get(self, name: str) -> None:
        lines = self.int_argument("lines", 1, MAX_LINES) or 200
        text = await self.services.run(self.endpoints.endpoint_logs, name, lines)
        self.write_model(EndpointLogs(endpoint=name, lines=lines, text=text))


KEY_HEADER = "X-MLWS-Endpoint-Key"
_RELAYED_TYPES = ("application/json", "text/csv")


class EndpointScoreHandler(EndpointsHandler):
    @route(
        "Score through the server (the panel's Try it box): the body and the key in "
        "X-MLWS-Endpoint-Key go to the endpoint's POST /score; its answer comes back as it is",
        raw_body="application/json",
        response=ScoreAnswer,
        errors=(400, 401, 403, 404, 413, 503, 504),
        tags=_TAGS,
    )
    async def post(self, name: str) -> None:
        endpoint = await self.services.run(self.endpoints.get_endpoint, name)
        base = self.endpoints.endpoint_url(endpoint)
        if base is None or endpoint.state not in ("running", "updating"):
            raise Unavailable(f"endpoint {name!r} is {endpoint.state}, not serving: nothing to score.")
        content_type = self.request.headers.get("Content-Type", "application/json").split(";")[0].strip()
        if content_type.lower() not in _RELAYED_TYPES:
            raise InvalidParameter(f"Send JSON or CSV to score (got Content-Type {content_type[:60]!r}).")
        headers = {"Content-Type": content_type}
        key = self.request.headers.get(KEY_HEADER)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        url = f"{base}/score"
        request = HTTPRequest(
            url, "POST", headers=headers, body=self.body, request_timeout=endpoint.timeout_seconds + 5
        )
        try:
            answer = await AsyncHTTPClient().fetch(request, raise_error=False)
        except (HTTPClientError, OSError) as err:
            raise Unavailable(f"endpoint {name!r} did not answer at {url}: {type(err).__name__}.") from None
        if answer.code == 599:
            raise Unavailable(f"endpoint {name!r} did not answer at {url}.")
        try:
            body = json.loads(answer.body)
        except ValueError:
            raise Unavailable(f"endpoint {name!r} answered {answer.code} without JSON.") from None
        self.set_status(answer.code)
        raw = answer.headers.get("X-MLWS-Answer")
        if raw:
            self.set_header("X-MLWS-Answer", raw)
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(json.dumps(body))
