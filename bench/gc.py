#!/usr/bin/env python3
"""bench/gc's driver (standard library only): fills a registry over the distribution API, untags a third of the images,
and measures manifest GET and push latency while something else happens. Every request goes to 127.0.0.1.

  gc.py fill    --url URL --repos N --tags T --pool P --workers W --out FILE   (writes what was pushed, as JSON)
  gc.py untag   --url URL --pushed FILE --workers W                            (deletes the manifests of tag t0 by digest)
  gc.py probe   --url URL --pushed FILE --until FILE --out FILE                (GET and push latencies until FILE exists)
  gc.py check   --url URL --pushed FILE --sample N                             (kept images pull whole; untagged are gone)
"""
import argparse, hashlib, http.client, json, os, random, sys, threading, time
from concurrent.futures import ThreadPoolExecutor

MANIFEST = "application/vnd.oci.image.manifest.v1+json"


class Client:
    """One keep-alive HTTP connection per thread."""
    local = threading.local()

    def __init__(self, url):
        self.host, self.port = url.split("//", 1)[1].rstrip("/").split(":")

    def conn(self):
        c = getattr(self.local, "c", None)
        if c is None:
            c = self.local.c = http.client.HTTPConnection(self.host, int(self.port), timeout=120)
        return c

    def request(self, method, path, body=None, headers=None):
        for attempt in range(3):
            try:
                c = self.conn()
                c.request(method, path, body=body, headers=headers or {})
                r = c.getresponse()
                data = r.read()
                return r.status, dict(r.getheaders()), data
            except (http.client.HTTPException, OSError):
                self.local.c = None
                if attempt == 2:
                    raise

    def blob(self, repo, content):
        digest = "sha256:" + hashlib.sha256(content).hexdigest()
        status, headers, _ = self.request("POST", f"/v2/{repo}/blobs/uploads/?digest={digest}", content,
                                          {"Content-Type": "application/octet-stream", "Content-Length": str(len(content))})
        if status == 202:  # a registry that does not take the single POST: PUT to the session it opened
            location = headers.get("Location") or headers.get("location")
            location = location.split("//", 1)[1].split("/", 1)[1] if "//" in location else location.lstrip("/")
            sep = "&" if "?" in location else "?"
            status, _, _ = self.request("PUT", f"/{location}{sep}digest={digest}", content,
                                        {"Content-Type": "application/octet-stream", "Content-Length": str(len(content))})
        if status != 201:
            raise RuntimeError(f"blob upload to {repo} answered {status}")
        return digest, len(content)

    def manifest(self, repo, tag, blobs):
        (config, csize), layers = blobs[0], blobs[1:]
        body = json.dumps({"schemaVersion": 2, "mediaType": MANIFEST,
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": csize},
                           "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": d, "size": s} for d, s in layers]},
                          separators=(",", ":")).encode()
        status, _, _ = self.request("PUT", f"/v2/{repo}/manifests/{tag}", body, {"Content-Type": MANIFEST})
        if status != 201:
            raise RuntimeError(f"manifest PUT {repo}:{tag} answered {status}")
        return "sha256:" + hashlib.sha256(body).hexdigest()


def content(kind, *ids):
    # Small, distinct, incompressible enough: the benchmark is about counts, not bytes.
    seed = hashlib.sha256(("%s:%s" % (kind, ":".join(map(str, ids)))).encode()).digest()
    return (seed * 8)[:200]


def fill(a):
    client = Client(a.url)

    def image(job):
        r, t = job
        repo = f"bench/r{r:05d}"
        blobs = [client.blob(repo, content("config", r, t)), client.blob(repo, content("own", r, t, 0)),
                 client.blob(repo, content("own", r, t, 1)), client.blob(repo, content("shared", (r * a.tags + t) % a.pool))]
        return {"repo": repo, "tag": f"t{t}", "digest": client.manifest(repo, f"t{t}", blobs), "blobs": [d for d, _ in blobs]}

    jobs = [(r, t) for r in range(a.repos) for t in range(a.tags)]
    start = time.time()
    with ThreadPoolExecutor(a.workers) as pool:
        images = list(pool.map(image, jobs, chunksize=16))
    took = time.time() - start
    with open(a.out, "w") as f:
        json.dump(images, f)
    blobs = {b for i in images for b in i["blobs"]}
    print(json.dumps({"images": len(images), "distinct_blobs": len(blobs), "seconds": round(took, 1)}))


def untag(a):
    client = Client(a.url)
    images = json.load(open(a.pushed))

    def delete(i):
        status, _, _ = client.request("DELETE", f"/v2/{i['repo']}/manifests/{i['digest']}")
        if status != 202:
            raise RuntimeError(f"DELETE {i['repo']}@{i['digest']} answered {status}")

    gone = [i for i in images if i["tag"] == "t0"]
    with ThreadPoolExecutor(a.workers) as pool:
        list(pool.map(delete, gone, chunksize=16))
    print(json.dumps({"untagged": len(gone)}))


def probe(a):
    """Manifest GETs of kept images and pushes of new small images, one after the other, until the file appears."""
    client = Client(a.url)
    kept = [i for i in json.load(open(a.pushed)) if i["tag"] != "t0"]
    gets, pushes, n = [], [], 0
    while not os.path.exists(a.until) or n < 20:
        i = random.choice(kept)
        start = time.perf_counter()
        status, _, _ = client.request("GET", f"/v2/{i['repo']}/manifests/{i['tag']}", headers={"Accept": MANIFEST})
        gets.append(time.perf_counter() - start)
        if status != 200:
            raise RuntimeError(f"GET {i['repo']}:{i['tag']} answered {status} during the collection")
        start = time.perf_counter()
        repo = f"probe/p{os.getpid()}-{n}"
        blobs = [client.blob(repo, content("probe-config", os.getpid(), n)), client.blob(repo, content("probe-layer", os.getpid(), n))]
        client.manifest(repo, "1", blobs)
        pushes.append(time.perf_counter() - start)
        n += 1
        if n >= a.max:
            break

    def p(xs, q):
        xs = sorted(xs)
        return round(xs[min(len(xs) - 1, int(q * len(xs)))] * 1000, 2)

    result = {"requests": n, "get_p50_ms": p(gets, 0.5), "get_p99_ms": p(gets, 0.99), "push_p50_ms": p(pushes, 0.5), "push_p99_ms": p(pushes, 0.99)}
    with open(a.out, "w") as f:
        json.dump(result, f)
    print(json.dumps(result))


def check(a):
    client = Client(a.url)
    images = json.load(open(a.pushed))
    random.seed(7)
    for i in random.sample(images, min(a.sample, len(images))):
        status, _, body = client.request("GET", f"/v2/{i['repo']}/manifests/{i['digest']}", headers={"Accept": MANIFEST})
        if i["tag"] == "t0":
            if status != 404:
                raise RuntimeError(f"{i['repo']}@{i['digest']} was untagged but answers {status}")
            continue
        if status != 200 or "sha256:" + hashlib.sha256(body).hexdigest() != i["digest"]:
            raise RuntimeError(f"{i['repo']}:{i['tag']} answers {status} or the wrong bytes after the collection")
        for b in i["blobs"]:
            status, _, data = client.request("GET", f"/v2/{i['repo']}/blobs/{b}")
            if status != 200 or "sha256:" + hashlib.sha256(data).hexdigest() != b:
                raise RuntimeError(f"{i['repo']}@{b} answers {status} or the wrong bytes after the collection")
    print(json.dumps({"checked": min(a.sample, len(images))}))


parser = argparse.ArgumentParser()
parser.add_argument("command", choices=["fill", "untag", "probe", "check"])
parser.add_argument("--url", required=True)
parser.add_argument("--repos", type=int, default=10000)
parser.add_argument("--tags", type=int, default=3)
parser.add_argument("--pool", type=int, default=10000)
parser.add_argument("--workers", type=int, default=8)
parser.add_argument("--out")
parser.add_argument("--pushed")
parser.add_argument("--until")
parser.add_argument("--max", type=int, default=100000)
parser.add_argument("--sample", type=int, default=200)
args = parser.parse_args()
{"fill": fill, "untag": untag, "probe": probe, "check": check}[args.command](args)
