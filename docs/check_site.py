"""Check the built docs site (and a demo's report.html) in a real headless Chromium.

    python docs/check_site.py site [--report ami-demo/report.html] [--screenshots DIR]

Every HTML page of the site, and the report if given, is served on 127.0.0.1 and loaded by
Chromium (Debian's `chromium`; `make docs-check` installs it when missing) with
`--dump-dom` after a virtual-time budget. The server adds one small script to each page it serves
that records, once the page has loaded, how many images it has and which did not decode
(`complete` and `naturalWidth > 0`); the dumped DOM carries that record back. A page fails when it
does not load, when an image is broken, or when Chromium logs a console message (`CONSOLE` lines
of `--enable-logging=stderr --v=1`: script errors, resources that failed to load). Screenshots of
a few pages (and the report) are taken and must not be blank. Exit status 1 on any failure, with
one line per problem.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import io
import json
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from PIL import Image

CHECK_SCRIPT = b"""<script>window.addEventListener("load", function () {
  var broken = Array.from(document.images)
    .filter(function (i) { return !(i.complete && i.naturalWidth > 0); })
    .map(function (i) { return i.getAttribute("src"); });
  document.documentElement.setAttribute("data-ami-check",
    JSON.stringify({images: document.images.length, broken: broken}));
});</script>"""
MARK = re.compile(r'data-ami-check="([^"]*)"')
SCREENSHOT_PAGES = ("index.html", "results/push_t/index.html", "reference/api/model/index.html")


class CheckingHandler(http.server.SimpleHTTPRequestHandler):
    """Serves files; HTML pages get the image-check script before `</body>`."""

    def send_head(self):  # type: ignore[no-untyped-def]
        """Serve HTML with the check script added; anything else as is."""
        path = Path(self.translate_path(self.path))
        if path.is_dir():
            path = path / "index.html"
        if path.suffix != ".html" or not path.is_file():
            return super().send_head()
        body = path.read_bytes()
        body = body.replace(b"</body>", CHECK_SCRIPT + b"</body>", 1)
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        return io.BytesIO(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        """Quiet: problems are reported by the checks."""


def chromium() -> str:
    """The Chromium binary, or exit with how to install it."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    sys.exit("check_site: no chromium found; install it with `apt-get install -y chromium`")


def run_chromium(binary: str, profile: Path, url: str, *mode: str) -> subprocess.CompletedProcess:
    """Chromium headless on `url` with `mode` (e.g. --dump-dom), console logged to stderr."""
    command = [
        binary,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        "--enable-logging=stderr",
        "--v=1",
        "--virtual-time-budget=10000",
        "--window-size=1280,1600",
        *mode,
        url,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def console_lines(stderr: str) -> list[str]:
    """The console messages Chromium logged."""
    return [line.strip() for line in stderr.splitlines() if ":CONSOLE" in line]


def check_page(binary: str, profile: Path, url: str) -> list[str]:
    """The problems of the page at `url` (empty when it is fine)."""
    try:
        result = run_chromium(binary, profile, url, "--dump-dom")
    except subprocess.TimeoutExpired:
        return [f"{url}: Chromium did not finish within 120 s"]
    problems = [f"{url}: console: {line}" for line in console_lines(result.stderr)]
    found = MARK.search(result.stdout)
    if found is None:
        return [*problems, f"{url}: did not load (no DOM with the check's record)"]
    record = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    problems += [f"{url}: image does not render: {src}" for src in record["broken"]]
    return problems


def check_screenshot(binary: str, profile: Path, url: str, out: Path) -> list[str]:
    """Screenshot `url` into `out`; a problem when it is missing or a single colour."""
    run_chromium(binary, profile, url, f"--screenshot={out}")
    if not out.is_file():
        return [f"{url}: no screenshot"]
    with Image.open(out) as image:
        colours = image.convert("RGB").getcolors(maxcolors=1 << 16)
    if colours is not None and len(colours) < 2:
        return [f"{url}: the screenshot {out} is blank"]
    return []


def serve(root: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    """A loopback server of `root` in a thread, and its base URL."""
    handler = functools.partial(CheckingHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def main() -> None:
    """Check every page; print one line per problem; exit 1 when there is any."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("site", type=Path, help="the built site (mkdocs build --site-dir)")
    parser.add_argument("--report", type=Path, help="a report.html written by ami demo")
    parser.add_argument("--screenshots", type=Path, help="folder for the screenshots")
    args = parser.parse_args()
    if not (args.site / "index.html").is_file():
        sys.exit(f"check_site: {args.site} holds no index.html; run `make docs` first")
    binary = chromium()
    with tempfile.TemporaryDirectory() as temp:
        root, profile = Path(temp) / "root", Path(temp) / "profile"
        root.mkdir()
        (root / "site").symlink_to(args.site.resolve())
        pages = sorted(p.relative_to(args.site).as_posix() for p in args.site.rglob("*.html"))
        targets = [f"site/{page}" for page in pages]
        shots = [f"site/{page}" for page in SCREENSHOT_PAGES if page in pages]
        if args.report is not None:
            if not args.report.is_file():
                sys.exit(f"check_site: no report at {args.report}")
            (root / "report").symlink_to(args.report.resolve().parent)
            targets.append(f"report/{args.report.name}")
            shots.append(f"report/{args.report.name}")
        server, base = serve(root)
        try:
            problems = []
            for target in targets:
                problems += check_page(binary, profile, f"{base}/{target}")
            shot_dir = args.screenshots or Path(temp) / "shots"
            shot_dir.mkdir(parents=True, exist_ok=True)
            for target in shots:
                name = target.replace("/", "_").removesuffix(".html") + ".png"
                problems += check_screenshot(binary, profile, f"{base}/{target}", shot_dir / name)
        finally:
            server.shutdown()
    for problem in problems:
        print(problem)
    print(f"check_site: {len(targets)} pages, {len(shots)} screenshots, {len(problems)} problems")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
