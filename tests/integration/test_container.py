#!/usr/bin/env python3
"""test_container.py: deploy/Containerfile built and run here, no registry.

Gated: runs only with ATTEST_TEST_CONTAINER=1 (it builds an image, which
downloads Debian packages from the mirror each time, several minutes);
otherwise it skips and says so. Where it cannot run it skips with what
failed: podman or debootstrap missing, or podman unable to run a container
on this kernel (no overlayfs, no cgroups...).

  1. base: a minimal Debian 12 (debootstrap --variant=minbase bookworm from
     the configured mirror, ATTEST_DEBIAN_MIRROR or the first URI in
     /etc/apt/sources.list.d/debian.sources) imported as localhost/attest-base
     (`tar -C DIR -c . | podman import - attest-base`); kept between runs;
  2. image: `podman build --network host --build-arg BASE=localhost/attest-base
     --build-arg RUNTIME_BASE=localhost/attest-base -f deploy/Containerfile`
     on a copy of the repository's files (what git knows, no build/ tree);
  3. run: the broker, the sink and a worker as containers with --network host
     on free ports, the log on a podman volume;
  4. submit: the host's `attest submit` signs and submits 20 lines; every
     one is acknowledged;
  5. verify: `attest log verify` and `count` in a container on the volume
     say 20 entries, chain ok; the containers stop with exit 0.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster as C  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BASE, IMAGE = "localhost/attest-base", "localhost/attest:it"
SKIPPED = 77   # ctest's SKIP_RETURN_CODE for this test (tests/CMakeLists.txt)


def sh(argv, timeout=600, stdin=None):
    p = subprocess.run(argv, input=stdin, capture_output=True, timeout=timeout,
                       text=not isinstance(stdin, bytes))
    return p.returncode, p.stdout, p.stderr


def mirror():
    if os.environ.get("ATTEST_DEBIAN_MIRROR"):
        return os.environ["ATTEST_DEBIAN_MIRROR"]
    try:
        with open("/etc/apt/sources.list.d/debian.sources") as f:
            for line in f:
                if line.startswith("URIs:"):
                    return line.split()[1]
    except OSError:
        pass
    return "http://deb.debian.org/debian"


def base_image(T):
    if sh(["podman", "image", "exists", BASE])[0] == 0:
        T.say("base: %s exists (kept from an earlier run)" % BASE)
        return True
    root = tempfile.mkdtemp(prefix="attest-debootstrap-")
    try:
        t0 = time.time()
        rc, out, err = sh(["debootstrap", "--variant=minbase", "bookworm", root, mirror()], timeout=1500)
        if rc != 0:
            T.skip("container: the base image", "debootstrap from %s failed: %s" % (mirror(), (out + err)[-300:]))
            return False
        tar = subprocess.Popen(["tar", "-C", root, "-c", "."], stdout=subprocess.PIPE)
        imp = subprocess.run(["podman", "import", "-", "attest-base"], stdin=tar.stdout, capture_output=True,
                             timeout=600)
        tar.wait()
        T.check("base: debootstrap bookworm + podman import (%.0f s)" % (time.time() - t0), imp.returncode == 0,
                imp.stderr[-300:])
        return imp.returncode == 0
    finally:
        shutil.rmtree(root, ignore_errors=True)


def build_image(T, tmp):
    ctx = os.path.join(tmp, "ctx")
    files = subprocess.run(["git", "-C", REPO, "ls-files", "-co", "--exclude-standard"], capture_output=True,
                           text=True, check=True).stdout.split("\n")
    for f in filter(None, files):
        src = os.path.join(REPO, f)
        if os.path.isfile(src) and not f.startswith("build"):
            os.makedirs(os.path.dirname(os.path.join(ctx, f)), exist_ok=True)
            shutil.copy2(src, os.path.join(ctx, f))
    t0 = time.time()
    rc, out, err = sh(PODMAN + ["build", "--network", "host"] + ULIMITS + ["--build-arg", "BASE=" + BASE, "--build-arg",
                       "RUNTIME_BASE=" + BASE, "-f", "deploy/Containerfile", "-t", IMAGE, ctx], timeout=1800)
    T.check("image: podman build -f deploy/Containerfile FROM the debootstrapped base (%.0f s)" % (time.time() - t0),
            rc == 0, (out + err)[-800:])
    return rc == 0


# How podman is run: found by can_run. On this kind of machine (cgroups v1
# with a cgroup2 hierarchy mounted beside it, "hybrid", and rlimits that may
# not be raised) podman's default runtime, crun, refuses ("cgroups in hybrid
# mode not supported"); runc runs, given ulimits at or below the caller's.
PODMAN = ["podman"]
ULIMITS = []


def s_ulimits():
    import resource
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    return ["--ulimit", "nofile=%d:%d" % (nofile, nofile), "--ulimit", "nproc=4096:4096"]


def can_run(T):
    global PODMAN, ULIMITS
    tries = [(["podman"], [])]
    if shutil.which("runc"):
        tries += [(["podman", "--runtime", "runc"], []), (["podman", "--runtime", "runc"], s_ulimits())]
    errors = []
    for podman, ulimits in tries:
        rc, out, err = sh(podman + ["run", "--rm", "--network", "host"] + ulimits + [BASE, "true"], timeout=120)
        if rc == 0:
            PODMAN, ULIMITS = podman, ulimits
            T.say("run: containers run with: %s" % " ".join(podman + ulimits))
            return True
        errors.append("%s: %s" % (" ".join(podman + ulimits), err.strip()[-200:]))
    T.skip("container: running containers", "podman cannot run a container here: " + " | ".join(errors))
    return False


def run_pipeline(T, tmp):
    tag = "attest-it-%d" % os.getpid()
    vol = tag + "-log"
    p1, p2, p3 = C.free_port(), C.free_port(), C.free_port()
    names = []
    try:
        T.check("run: podman volume create", sh(PODMAN + ["volume", "create", vol])[0] == 0)
        daemons = [("broker", [], ["attest-broker", "--frontend", "127.0.0.1:%d" % p1, "--backend",
                                   "127.0.0.1:%d" % p2]),
                   ("sink", ["-v", vol + ":/var/lib/attest"],
                    ["attest-sink", "--log-dir", "/var/lib/attest/log", "--broker", "127.0.0.1:%d" % p2,
                     "--verdicts", "127.0.0.1:%d" % p3]),
                   ("worker", [], ["attest-worker", "--broker", "127.0.0.1:%d" % p2, "--sink",
                                   "127.0.0.1:%d" % p3, "--threads", "1", "--id", "cw0"])]
        for role, extra, argv in daemons:
            name = "%s-%s" % (tag, role)
            rc, out, err = sh(PODMAN + ["run", "-d", "--name", name, "--network", "host"] + ULIMITS + extra + [IMAGE]
                              + argv)
            T.check("run: the %s as a container" % role, rc == 0, err[-300:])
            names.append(name)
            if role != "worker":
                C.wait_port(p1 if role == "broker" else p3, timeout=30)
        submit(T, tmp, p1, names)
        for name in names:
            sh(PODMAN + ["stop", "-t", "15", name], timeout=60)
        codes = {n: sh(PODMAN + ["inspect", "-f", "{{.State.ExitCode}}", n])[1].strip() for n in names}
        T.check("run: every container exits 0 on stop (SIGTERM)", all(v == "0" for v in codes.values()), codes)
        rc, out, err = sh(PODMAN + ["run", "--rm", "-v", vol + ":/var/lib/attest"] + ULIMITS + [IMAGE, "attest", "log",
                                    "--dir", "/var/lib/attest/log", "verify"])
        T.check("verify: attest log verify in a container on the volume: 20 entries, chain ok",
                rc == 0 and "entries=20 " in out and "chain=ok" in out, (rc, out[-300:], err[-300:]))
    finally:
        for name in names:
            if T.failed:
                print("---- podman logs %s ----\n%s" % (name, "".join(sh(PODMAN + ["logs", name])[1:])[-1500:]))
            sh(PODMAN + ["rm", "-f", name], timeout=60)
        sh(PODMAN + ["volume", "rm", "-f", vol], timeout=60)


def submit(T, tmp, port, names):
    attest = os.path.join(T.bindir, "attest")
    key = os.path.join(tmp, "k.json")
    T.check("submit: attest keygen on the host", sh([attest, "keygen", "-o", key])[0] == 0)
    lines = "".join(json.dumps({"schema": "ex/v1", "subject": "c-%d" % i, "data": "x%d" % i}) + "\n"
                    for i in range(20))
    rc, out, err = sh([attest, "submit", "--broker", "127.0.0.1:%d" % port, "-k", key, "--timeout-ms", "30000"],
                      timeout=120, stdin=lines)
    acked = sum(1 for line in out.splitlines() if '"index"' in line)
    T.check("submit: 20 attestations through the containers, all acknowledged", rc == 0 and acked == 20,
            (rc, acked, err[-400:]))


def body(args, T):
    T.bindir = args.bin
    if os.environ.get("ATTEST_TEST_CONTAINER") != "1":
        T.skip("container: build and run deploy/Containerfile",
               "set ATTEST_TEST_CONTAINER=1 to run it (builds an image from Debian's mirror: minutes, downloads)")
        raise SystemExit(SKIPPED)
    missing = [t for t in ("podman", "debootstrap", "git") if not shutil.which(t)]
    if missing:
        T.skip("container: build and run deploy/Containerfile",
               "%s not installed (apt-get install podman buildah debootstrap)" % ", ".join(missing))
        raise SystemExit(SKIPPED)
    tmp = tempfile.mkdtemp(prefix="attest-it-container-")
    try:
        if base_image(T) and can_run(T) and build_image(T, tmp):
            run_pipeline(T, tmp)
        elif not T.failed:
            raise SystemExit(SKIPPED)   # a skip said what failed
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(C.main_wrapper("test_container", body))
