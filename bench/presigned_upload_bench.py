"""Large-upload benchmark through the presigned-URL flow: prints figures, asserts nothing.

    python -m bench.presigned_upload_bench [--backend sqlite|mariadb] [--codes 1000000]

Starts moto's S3 server in its own process (so its memory is not counted), writes a CSV of
`--codes` codes to disk, then measures the whole flow in this process: start the upload
(presigned PUT URL), PUT the file with httpx (streamed from disk), complete, and import it
(`domain.large_uploads.process_upload`: the object is streamed to a temporary file and
imported in batches). Prints each phase's time, the total, and this process's peak RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pymysql
from pydantic import SecretStr

from domain.adapters.db import close_db, init_db, run_migrations
from domain.settings import Settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_for(url: str) -> None:
    async with httpx.AsyncClient() as http:
        for _ in range(100):
            try:
                await http.get(url)
                return
            except httpx.TransportError:
                await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


async def file_chunks(path: Path, size: int = 1 << 20) -> AsyncIterator[bytes]:
    with path.open("rb") as handle:
        while chunk := handle.read(size):
            yield chunk


async def run(settings: Settings, codes: int, csv_path: Path) -> None:
    from domain import campaigns, developers
    from domain.adapters.bootstrap import bootstrap
    from domain.adapters.s3 import S3ObjectStore
    from domain.large_uploads import (
        admit_large_upload,
        complete_upload,
        process_upload,
        start_upload,
    )

    await run_migrations(settings)
    await init_db(settings)
    store = S3ObjectStore.from_settings(settings)
    await store.ensure_bucket()
    services = bootstrap(settings, store=store)
    try:
        dev = await developers.create_developer(name="Bench", email=f"b{secrets.token_hex(3)}@x.io")
        c = await campaigns.create_campaign(owner_id=dev.id, name="Upload bench")
        t0 = time.perf_counter()
        admitted = await admit_large_upload(services, developer_id=dev.id, campaign_id=c.id)
        ticket = await start_upload(services, admitted, filename=csv_path.name)
        async with httpx.AsyncClient(timeout=300) as http:
            response = await http.put(
                ticket.url,
                content=file_chunks(csv_path),
                headers={"Content-Length": str(csv_path.stat().st_size)},
            )
            response.raise_for_status()
        t1 = time.perf_counter()
        await complete_upload(
            owner_id=dev.id, campaign_id=c.id, upload_id=ticket.upload_id, services=services
        )
        done = await process_upload(upload_id=ticket.upload_id, services=services)
        t2 = time.perf_counter()
        assert done is not None
        r = done.report
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"presigned upload ({'mariadb' if settings.is_mysql else 'sqlite'}):"
            f" {csv_path.stat().st_size / 1024 / 1024:.1f} MiB, {codes:,} codes\n"
            f"  PUT to S3: {t1 - t0:.1f}s; complete + import: {t2 - t1:.1f}s;"
            f" total {t2 - t0:.1f}s = {r.imported / (t2 - t0):,.0f} codes/s\n"
            f"  report: status={r.status} rows={r.rows:,} imported={r.imported:,}"
            f" duplicates={r.duplicates:,} invalid={r.invalid:,}\n"
            f"  peak RSS of this process: {peak:.0f} MiB"
        )
    finally:
        await services.close()
        await close_db()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=["sqlite", "mariadb"], default="sqlite")
    parser.add_argument("--codes", type=int, default=1_000_000)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="codedrop-upload-bench-"))
    csv_path = tmp / "codes.csv"
    with csv_path.open("w") as out:
        out.write("code\n")
        for i in range(args.codes):
            out.write(f"BENCH{i:09d}\n")
    port = free_port()
    moto = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    database = None
    try:
        asyncio.run(wait_for(f"http://127.0.0.1:{port}/"))
        if args.backend == "mariadb":
            database = f"codedrop_upbench_{os.getpid()}"
            admin = pymysql.connect(host="127.0.0.1", port=3306, user="root", password="")
            with admin.cursor() as cur:
                cur.execute(f"CREATE DATABASE `{database}` CHARACTER SET utf8mb4")
            url = f"mysql://root:@127.0.0.1:3306/{database}"
        else:
            url = f"sqlite://{tmp / 'bench.sqlite3'}"
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None,
            environment="test",
            database_url=url,
            storage_dir=tmp / "objects",
            s3_bucket="bench",
            s3_endpoint_url=f"http://127.0.0.1:{port}",
            s3_access_key_id="testing",
            s3_secret_access_key=SecretStr("testing"),
        )
        asyncio.run(run(settings, args.codes, csv_path))
    finally:
        moto.terminate()
        moto.wait()
        if database:
            admin = pymysql.connect(host="127.0.0.1", port=3306, user="root", password="")
            with admin.cursor() as cur:
                cur.execute(f"DROP DATABASE IF EXISTS `{database}`")
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
