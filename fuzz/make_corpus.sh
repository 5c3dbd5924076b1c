#!/usr/bin/env bash
# Regenerates the seed corpus in fuzz/corpus/<target>/: small valid and near-valid inputs for
# each reader. Needs only bash, printf, truncate and gzip. Files named crash-* (reproducers of bugs
# found by fuzzing) and regress-* (fixed ones, replayed every run) are kept; everything else in the corpus is rewritten.
# Usage: fuzz/make_corpus.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
corpus="$here/corpus"
for t in idx cifar csv safetensors; do
  mkdir -p "$corpus/$t"
  find "$corpus/$t" -type f ! -name 'crash-*' ! -name 'regress-*' -delete
done

# Bytes from a list of decimal values: bytes 0 0 8 1 > file.
bytes() { local b; for b in "$@"; do printf "\\$(printf %03o "$b")"; done; }
# n bytes counting up from `start` modulo 256: ramp n start.
ramp() { local i; for ((i = 0; i < $1; ++i)); do bytes $(((i + $2) % 256)); done; }
be32() { bytes $(($1 >> 24 & 255)) $(($1 >> 16 & 255)) $(($1 >> 8 & 255)) $(($1 & 255)); }
le64() { local i; for ((i = 0; i < 8; ++i)); do bytes $(($1 >> (8 * i) & 255)); done; }

# --- IDX (the reader detects gzip by its magic) ------------------------------------------------
d="$corpus/idx"
{ bytes 0 0 8 1; be32 3; bytes 7 0 9; } > "$d/labels_3"
{ bytes 0 0 8 3; be32 2; be32 2; be32 2; ramp 8 250; } > "$d/images_2x2x2"
{ bytes 0 0 8 4; be32 1; be32 1; be32 2; be32 3; ramp 6 0; } > "$d/rank4"
{ bytes 0 0 8 2; be32 0; be32 5; } > "$d/empty_dim"
gzip -9 -n -c "$d/images_2x2x2" > "$d/images_2x2x2.gz"
gzip -9 -n -c "$d/labels_3" > "$d/truncated.gz"
truncate -s 20 "$d/truncated.gz"
{ bytes 0 0 8 1; be32 4; bytes 1 2 3; } > "$d/short_data"
{ bytes 0 0 13 1; be32 1; bytes 0 0 0 0; } > "$d/float_type"
{ bytes 0 0 8 5; } > "$d/rank5"

# --- CIFAR-10 binary: records of 1 label byte + 3072 pixel bytes ---------------------------------
d="$corpus/cifar"
record() { bytes "$1"; ramp 3072 "$1"; }
record 3 > "$d/one_record"
{ record 0; record 9; } > "$d/two_records"
gzip -9 -n -c "$d/one_record" > "$d/one_record.gz"
record 10 > "$d/label_10"
record 5 > "$d/truncated"
truncate -s 3000 "$d/truncated"
: > "$d/empty"

# --- CSV: the first byte picks the options (see csv_fuzz.cpp), the rest is the text ------------
d="$corpus/csv"
csv() { local flags=$1 name=$2; shift 2; { bytes "$flags"; printf '%s' "$@"; } > "$d/$name"; }
csv 0 header $'a,b,c\n1,2,3\n4.5,-6,7e2\n'
csv 0 header_only $'x,y\n'
csv 0 quoted_crlf $'"a,1","say ""hi""","multi\nline"\r\n"1", 2 ,"3.5"\r\n'
csv 1 no_header $'1,2\n3,4'
csv 2 detect $'# comment\n\nx,2\n1,2\n'
csv 4 semicolon $'a;b\n1.5;+2\n'
csv 8 tabs $'a\tb\n1\t2\n'
csv 64 non_finite_allowed $'v,w\nnan,-inf\nInfinity,1e308\n'
csv 0 non_finite $'v\ninf\n'
csv 0 ragged $'a,b\n1,2,3\n'
csv 0 missing $'a,b\n1,\n'
csv 0 unclosed_quote $'a\n"1\n'
csv 128 cell_cap $'1,2,3,4,5,6,7,8,9\n1,2,3,4,5,6,7,8,9\n'
csv 16 blank_lines_kept $'a\n1\n\n2\n'
csv 0 bom $'\xEF\xBB\xBFa,b\n1,2\n'

# --- safetensors: u64 header length, JSON header, data -------------------------------------------
d="$corpus/safetensors"
# st name json data-bytes...: pads the JSON with spaces to 8 bytes as the reference writer does.
st() {
  local name=$1 json=$2; shift 2
  while (( ${#json} % 8 )); do json+=' '; done
  { le64 ${#json}; printf '%s' "$json"; bytes "$@"; } > "$d/$name"
}
f32_1_2=(0 0 128 63 0 0 0 64)  # 1.0f, 2.0f
st f32 '{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}' "${f32_1_2[@]}"
st f64_i64_meta '{"__metadata__":{"step":"3"},"a":{"dtype":"F64","shape":[1],"data_offsets":[0,8]},"b":{"dtype":"I64","shape":[1,1],"data_offsets":[8,16]}}' \
  0 0 0 0 0 0 240 63 5 0 0 0 0 0 0 0
st scalar_and_empty '{"s":{"dtype":"F32","shape":[],"data_offsets":[0,4]},"e":{"dtype":"F32","shape":[0,3],"data_offsets":[4,4]}}' 0 0 128 63
st empty_header '{}'
st f16 '{"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}' 0 60 0 60
st overlap '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}' "${f32_1_2[@]}"
st size_mismatch '{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}' "${f32_1_2[@]}"
st out_of_file '{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}' "${f32_1_2[@]}"
st bad_json '{"w":{"dtype":"F32","shape":[2],' "${f32_1_2[@]}"
{ le64 1000; printf '{}'; } > "$d/header_too_long"
printf 'short' > "$d/too_short"

du -sb --apparent-size "$corpus"
