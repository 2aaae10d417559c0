#!/bin/bash
# the digest of a same-seed output folder (run.sh writes it): digest.sh OUT
cd "$1"; PY=${SNEKNER_PYTHON:-python3}
{
  for f in data-a data-b; do find $f -type f ! -name '*.json' | sort | xargs sha256sum; done
  find adapted -name '*.h5' -o -name '*.safetensors' | sort | xargs -r sha256sum
  for r in runs/A runs/B runs/I runs/G; do find $r -name '*.h5' -o -name '*.safetensors' -o -name '*.index' -o -name '*.data-*' | sort | xargs -r sha256sum; done
  find runs adapted -name 'metrics*.jsonl' -o -name 'log*.jsonl' | sort | while read f; do echo "== $f"; $PY - "$f" <<'PY'
import json,sys
for line in open(sys.argv[1]):
    d=json.loads(line); print({k:v for k,v in d.items() if not any(s in k for s in ("seconds","per_second"))})
PY
  done
  find runs -path '*eval/*.json' | sort | while read f; do echo "== $f"; $PY - "$f" <<'PY'
import json,sys
d=json.load(open(sys.argv[1]))
def strip(x):
    if isinstance(x,dict): return {k:strip(v) for k,v in sorted(x.items()) if k not in ("kind","version","format_version","created","seconds","elapsed","sentences_per_second","written_at","data","prediction_seconds")}
    if isinstance(x,list): return [strip(v) for v in x]
    return x
print(json.dumps(strip(d),sort_keys=True))
PY
  done
  for f in compare.log predict.log predict.jsonl eval-a.log eval-b.log eval-g.log eval-i.log; do echo "== $f"; grep -v -i "seconds\| s \|sent/s\|took\|sentences/s" $f; done
  for f in train-i.log train-n.log; do echo "== $f tail"; tail -3 $f | sed 's/[0-9.]* s\b/T s/g'; done
} > digest.txt
