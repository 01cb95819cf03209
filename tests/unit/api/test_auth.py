"""Password guessing through the real app: limits per address and per user, the bound on
concurrent verifications, the cache of verified credentials, and equal cost for unknown users."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import anyio
import httpx
import pytest

from dockwatch.api import passwords
from dockwatch.api.app import create_app
from dockwatch.api.auth import Authenticator, BasicCredentials, BootstrapResult
from dockwatch.app import Services
from dockwatch.clock import ControlledClock

from .conftest import PASSWORD, USER, client_for, make_services

pytestmark = pytest.mark.anyio


@pytest.fixture
def scrypt_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every scrypt run of a verification or a hash, by password."""
    calls: list[str] = []
    real = passwords._scrypt

    def counting(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
        calls.append(password)
        return real(password, salt, n, r, p)

    monkeypatch.setattr(passwords, "_scrypt", counting)
    yield calls


def _clock(services: Services) -> ControlledClock:
    assert isinstance(services.clock, ControlledClock)
    return services.clock


async def _status(
    app: object, address: str, auth: tuple[str, str], path: str = "/v2/"
) -> httpx.Response:
    async with client_for(app, address, auth) as c:
        return await c.get(path)


async def _at_once(app: object, n: int, network: str) -> list[int]:
    """The statuses of `n` requests sent together with the test user's credentials, each from
    its own address of `network` (a.b.c)."""
    statuses: list[int] = []

    async def one(i: int) -> None:
        statuses.append((await _status(app, f"{network}.{i}", (USER, PASSWORD))).status_code)

    async with anyio.create_task_group() as tg:
        for i in range(n):
            tg.start_soon(one, i)
    return statuses


async def test_wrong_passwords_from_one_address_get_429_and_others_still_work(
    services: Services,
) -> None:
    app = create_app(services)
    free = services.settings.auth_free_failures_per_address
    answers = [(await _status(app, "10.0.0.9", (USER, "guess"))).status_code for _ in range(free)]
    assert answers == [401] * free
    assert (await _status(app, "10.0.0.9", (USER, "guess"))).status_code == 401  # starts the wait
    blocked = await _status(app, "10.0.0.9", (USER, "guess"))
    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) >= 1
    assert blocked.json()["errors"][0]["code"] == "TOOMANYREQUESTS"
    # even the right password waits on that address (a guess must not be told apart)
    assert (await _status(app, "10.0.0.9", (USER, PASSWORD))).status_code == 429
    api = await _status(app, "10.0.0.9", (USER, "guess"), "/api/v1/repositories")
    assert api.status_code == 429 and api.json()["__type"] == "TooManyRequestsException"
    # another address is not held back
    assert (await _status(app, "10.0.0.10", (USER, PASSWORD))).status_code == 200


async def test_after_the_wait_the_right_password_works(services: Services) -> None:
    app = create_app(services)
    for _ in range(services.settings.auth_free_failures_per_address + 3):
        await _status(app, "10.0.0.9", (USER, "guess"))
    blocked = await _status(app, "10.0.0.9", (USER, PASSWORD))
    assert blocked.status_code == 429
    _clock(services).advance(timedelta(seconds=int(blocked.headers["retry-after"])))
    assert (await _status(app, "10.0.0.9", (USER, PASSWORD))).status_code == 200
    # the success cleared the address: failures are free again
    assert (await _status(app, "10.0.0.9", (USER, "guess"))).status_code == 401


async def test_guesses_for_one_user_spread_over_addresses_are_limited(tmp_path: Path) -> None:
    services = make_services(tmp_path, auth_free_failures_per_user=6)
    try:
        app = create_app(services)
        for i in range(7):  # one guess from each address: under the address limit
            assert (await _status(app, f"10.1.0.{i}", (USER, "guess"))).status_code == 401
        answer = await _status(app, "10.1.0.99", (USER, "guess"))
        assert answer.status_code == 429 and int(answer.headers["retry-after"]) >= 1
        # another user name is not held back
        assert (await _status(app, "10.1.0.99", ("someone", "x"))).status_code == 401
    finally:
        services.close()


async def test_unknown_users_pay_the_same_verification(
    services: Services, scrypt_calls: list[str]
) -> None:
    app = create_app(services)
    assert (await _status(app, "10.0.0.1", (USER, "wrong-1"))).status_code == 401
    known = len(scrypt_calls)
    assert (await _status(app, "10.0.0.2", ("nobody", "wrong-2"))).status_code == 401
    unknown = len(scrypt_calls) - known
    assert known == unknown == 1
    assert scrypt_calls == ["wrong-1", "wrong-2"]


async def test_verified_credentials_are_cached_until_the_time_or_the_password_changes(
    services: Services, scrypt_calls: list[str]
) -> None:
    app = create_app(services)
    for _ in range(5):
        assert (await _status(app, "10.0.0.1", (USER, PASSWORD))).status_code == 200
    assert len(scrypt_calls) == 1
    _clock(services).advance(timedelta(seconds=services.settings.auth_cache_seconds + 1))
    assert (await _status(app, "10.0.0.1", (USER, PASSWORD))).status_code == 200
    assert len(scrypt_calls) == 2
    # a password change (by anyone writing the store) ends the cached entry at once
    with services.store.write() as uow:
        uow.accounts.set_password_hash(services.tenant, USER, passwords.hash_password("new-pass"))
    assert (await _status(app, "10.0.0.1", (USER, PASSWORD))).status_code == 401
    assert (await _status(app, "10.0.0.1", (USER, "new-pass"))).status_code == 200
    with services.store.write() as uow:
        assert uow.accounts.delete_user(services.tenant, USER)
    assert (await _status(app, "10.0.0.1", (USER, "new-pass"))).status_code == 401


def test_the_cache_is_bounded_and_keeps_no_password(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("dockwatch.api.auth.MAX_CACHED", 50)
    monkeypatch.setattr("dockwatch.api.auth.verify_or_dummy", lambda password, stored: True)
    auth = Authenticator(services.store, services.tenant, cache_seconds=60, now=lambda: 0.0)
    for i in range(1000):
        assert auth.verify(BasicCredentials(USER, f"pass-{i}"), "stored")
    assert len(auth) == 50
    assert all(len(key) == 32 for key in auth._ok)  # HMAC-SHA256 digests, not passwords


async def test_concurrent_verifications_are_bounded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    services = make_services(
        tmp_path,
        auth_cache_seconds=0,
        auth_max_concurrent_verifications=2,
        auth_verification_wait_seconds=600,  # every request waits its turn, however slow
    )
    inside = 0
    most = 0
    lock = threading.Lock()
    real: Callable[[str, bytes, int, int, int], bytes] = passwords._scrypt

    def observed(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
        nonlocal inside, most
        with lock:
            inside += 1
            most = max(most, inside)
        try:
            return real(password, salt, n, r, p)
        finally:
            with lock:
                inside -= 1

    monkeypatch.setattr(passwords, "_scrypt", observed)
    try:
        assert await _at_once(create_app(services), 12, "10.2.0") == [200] * 12
        assert most <= 2
    finally:
        services.close()


async def test_requests_with_the_same_credentials_at_once_share_one_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client opening many connections at once, each with a Basic header (a parallel push):
    one scrypt for all of them, whether they wait for the check in progress or for a slot."""
    services = make_services(tmp_path, auth_max_concurrent_verifications=2)
    calls: list[str] = []
    real = passwords._scrypt

    def slow(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
        calls.append(password)
        time.sleep(0.3)  # the other requests arrive while it runs
        return real(password, salt, n, r, p)

    monkeypatch.setattr(passwords, "_scrypt", slow)
    try:
        assert await _at_once(create_app(services), 8, "10.3.0") == [200] * 8
        assert calls == [PASSWORD]
    finally:
        services.close()


def test_a_wrong_password_checked_at_once_is_one_check_refused_to_each(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    real = passwords._scrypt
    arrived = threading.Barrier(4)

    def slow(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
        calls.append(password)
        time.sleep(0.3)  # the other callers arrive while it runs
        return real(password, salt, n, r, p)

    monkeypatch.setattr(passwords, "_scrypt", slow)
    auth = Authenticator(services.store, services.tenant, cache_seconds=60, now=lambda: 0.0)
    creds = BasicCredentials(USER, "a guess")
    stored = auth.lookup(creds).stored
    answers: list[bool] = []

    def check() -> None:
        arrived.wait()
        answers.append(auth.verify(creds, stored))

    threads = [threading.Thread(target=check) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert answers == [False] * 4
    assert calls == ["a guess"]
    assert not auth.verify(creds, stored)  # a refusal is not remembered: checked again
    assert calls == ["a guess", "a guess"]


async def test_no_credentials_is_not_counted(services: Services) -> None:
    app = create_app(services)
    for _ in range(20):
        async with client_for(app, "10.0.0.5", None) as c:
            r = await c.get("/v2/")
        assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Basic ")
    assert (await _status(app, "10.0.0.5", (USER, PASSWORD))).status_code == 200


async def test_verifications_beyond_the_bound_are_503_not_queued(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    services = make_services(
        tmp_path,
        auth_cache_seconds=0,
        auth_max_concurrent_verifications=1,
        auth_max_waiting_verifications=0,
    )
    release = threading.Event()
    entered = threading.Event()
    real = passwords._scrypt

    def held(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
        entered.set()
        release.wait(30)
        return real(password, salt, n, r, p)

    monkeypatch.setattr(passwords, "_scrypt", held)
    try:
        app = create_app(services)
        answers: list[httpx.Response] = []

        async def first() -> None:
            answers.append(await _status(app, "10.3.0.1", (USER, PASSWORD)))

        async with anyio.create_task_group() as tg:
            tg.start_soon(first)
            while not entered.is_set():
                await anyio.sleep(0.01)
            busy = await _status(app, "10.3.0.2", (USER, PASSWORD), "/api/v1/repositories")
            assert busy.status_code == 503
            assert busy.json()["__type"] == "ServiceUnavailableException"
            assert int(busy.headers["retry-after"]) >= 1
            release.set()
        assert answers[0].status_code == 200
    finally:
        release.set()
        services.close()


async def test_credentials_are_checked_once_the_configured_user_is_set_up(
    services: Services, scrypt_calls: list[str]
) -> None:
    """`serve` sets its user up after it listens: a request signing in before then waits for
    it, so a password changed in the settings is the one that signs in from the first
    request, and the old one no longer does; the set-up's check of the new password is the
    only one that request needs."""
    from dockwatch.api.app import serve_app
    from dockwatch.api.auth import bootstrap_user

    def set_up_users() -> BootstrapResult:  # the restart's settings bring a new password
        at = _clock(services).now()
        return bootstrap_user(services.store, services.tenant, USER, "changed-pass-2", at)

    served = serve_app(services, set_up_users=set_up_users)
    assert (await _status(served.asgi, "10.0.0.1", (USER, "changed-pass-2"))).status_code == 200
    # the set-up: the stored password checked, the new one hashed; the request: none
    assert scrypt_calls == ["changed-pass-2", "changed-pass-2"]
    assert (await _status(served.asgi, "10.0.0.2", (USER, PASSWORD))).status_code == 401
    assert served.users is not None and served.users.get().checked is not None


async def test_requests_signing_in_during_the_set_up_leave_the_thread_pool_to_the_rest(
    services: Services,
) -> None:
    """Sixty requests sign in while the user is being set up (more than the pool's 40
    threads): a database call of another request still gets a thread at once."""
    from anyio import to_thread

    from dockwatch.api.app import serve_app
    from dockwatch.api.auth import bootstrap_user

    release = threading.Event()

    def set_up_users() -> BootstrapResult:
        release.wait(30)
        at = _clock(services).now()
        return bootstrap_user(services.store, services.tenant, USER, PASSWORD, at)

    served = serve_app(services, set_up_users=set_up_users)
    statuses: list[int] = []

    async def sign_in(i: int) -> None:
        statuses.append((await _status(served.asgi, f"10.9.0.{i}", (USER, PASSWORD))).status_code)

    async with anyio.create_task_group() as tg:
        for i in range(60):
            tg.start_soon(sign_in, i)
        await anyio.sleep(0.2)  # every request is waiting now
        with anyio.fail_after(10):
            other = await to_thread.run_sync(lambda: "a database call")
        release.set()
    assert other == "a database call"
    assert statuses == [200] * 60
