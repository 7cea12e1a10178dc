#!/usr/bin/env bash
# Rebuild the zoo's 32 eight-painting networks from a checkpoint of train/runs/paintings8 (CPU, one core a run).
#
#   scripts/rebuild_zoo.sh BASE all           BASE: e.g. train/runs/paintings8/paintings8_step011950_decayed.safetensors
#   scripts/rebuild_zoo.sh BASE STAGE...      one stage or a few, in order
#
# `all` is every stage, two runs side by side where they can be (about 2 hours on 2 cores). The stages, in
# order (each one's inputs are the earlier ones' outputs under $WORK):
#   tw          temporal fine-tune of all eight paintings at once (the temporal half-width members)
#   distill     an eight-painting fast_net pulled towards BASE's outputs (pixel loss, no VGG: cheap)
#   fast-plain  its perceptual fine-tune (NAME-plain-fast)
#   fast-tw     the same with the temporal loss (the temporal fast members)
#   specialize  for the paintings in SPECIALIZE: BASE's member fine-tuned alone, on a trunk of its own (NAME-plain),
#               then its own temporal fine-tune (docs/benchmarks.md, "One painting's own trunk")
#   blend       per painting NAME = 0.5 tw + 0.5 plain, NAME-fast = 0.7 fast-tw + 0.3 plain-fast (TW, FAST_TW);
#               for a specialised painting, tw and plain are its own two fine-tunes
#   ship        every network into models/zoo/ with its card and gallery row (scripts/ship_style.py)
# The painting is at 512 px throughout; `tw` and `distill` train on 128 px crops (docs/benchmarks.md, "Training
# crop size"), the fast fine-tunes on 256 px ones (there the temporal one keeps more of the style).
# Each run ends on a cosine decay of its learning rate (--decay-steps).
#
# Environment: WORK (default /var/tmp/stylecam-zoo), CONTENT (the training photos less the held-out ones:
# `benchmarks/quality.py --training-folder DIR`), VGG (`stylecam vgg import-hed -o FILE`), STEPS_* below.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
fail() { echo "rebuild_zoo.sh: $*" >&2; exit 2; }
[ $# -ge 2 ] || fail "usage: scripts/rebuild_zoo.sh BASE all|STAGE... (see the top of this file)"
[ -f "$1" ] || fail "no checkpoint at $1"
BASE=$(realpath "$1"); shift
WORK=${WORK:-/var/tmp/stylecam-zoo}
CONTENT=${CONTENT:-$WORK/train_content}
VGG=${VGG:-$WORK/vgg16_hed.safetensors}
[ -d "$CONTENT" ] || fail "no training photos at $CONTENT (.venv/bin/python benchmarks/quality.py --training-folder DIR, then CONTENT=DIR)"
[ -f "$VGG" ] || fail "no VGG16 at $VGG (stylecam vgg import-hed -o FILE, then VGG=FILE)"
S=$ROOT/../shared/data/styles
PY=$ROOT/.venv/bin/python
NAMES=(starry_night the_scream great_wave composition_vii udnie shipwreck_of_the_minotaur night_cafe wheat_field)
FILES=(van_gogh_the_starry_night_1889.jpg munch_the_scream_1893.jpg hokusai_the_great_wave_off_kanagawa_c1831.jpg
       kandinsky_composition_vii_1913.jpg picabia_udnie_1913.jpg turner_the_shipwreck_of_the_minotaur_c1810.jpg
       van_gogh_the_night_cafe_1888.jpg van_gogh_wheat_field_with_cypresses_1889.jpg)
PAINTINGS=()
for f in "${FILES[@]}"; do PAINTINGS+=(--style-image "$S/$f"); done
PAINTINGS+=(--member-names "$(IFS=,; echo "${NAMES[*]}")")
COMMON=(--content-dir "$CONTENT" --style-size 512 --warmup-steps 20 --precision bf16 --log-every 1 --sample-every 0 --width 16)
PERCEPTUAL=(--vgg-weights "$VGG" --clip-grad 4 --style-weight 1.0 --checkpoint-every 100)
FAST=(--arch fast_net --blocks 3)
TW=${TW:-0.5}            # the temporal fine-tune's share of NAME (docs/benchmarks.md, "Why still-camera pairs and blends")
FAST_TW=${FAST_TW:-0.7}  # and of NAME-fast
# The paintings whose half-width networks get a trunk of their own (the_scream's and night_cafe's `-plain`
# networks were inside their box without it), and the style weight of each one's fine-tunes where it is
# not 1: more style where content loss had room to spare.
read -r -a SPECIALIZE <<< "${SPECIALIZE:-great_wave composition_vii udnie shipwreck_of_the_minotaur wheat_field starry_night}"
declare -A SPEC_STYLE_WEIGHT=([starry_night]=1.5 [great_wave]=1.5 [composition_vii]=1.4)
mkdir -p "$WORK"

train() {  # one core: the other one runs the twin stage
    OMP_NUM_THREADS=1 "$PY" -c "import torch; torch.set_num_threads(1); from stylecam.pipeline.app.cli import main; main()" \
        train "${PAINTINGS[@]}" "${COMMON[@]}" "$@"
}

train_one() {  # NAME, then train's options: that painting alone, one core
    local name=$1 i; shift
    for i in "${!NAMES[@]}"; do [ "${NAMES[$i]}" = "$name" ] && break; done
    [ "${NAMES[$i]}" = "$name" ] || fail "not one of the eight paintings: $name"
    OMP_NUM_THREADS=1 "$PY" -c "import torch; torch.set_num_threads(1); from stylecam.pipeline.app.cli import main; main()" \
        train --style-image "$S/${FILES[$i]}" "${COMMON[@]}" "${PERCEPTUAL[@]}" --style-weight "${SPEC_STYLE_WEIGHT[$name]:-1.0}" \
        --image-size 128 "$@"
}

specialize() {  # NAME: its own trunk (2000 steps from BASE's member), then the temporal fine-tune of that
    local name=$1
    train_one "$name" --style-name "$name-plain" --save-model-dir "$WORK/spec/$name" --init "$WORK/plain/$name.safetensors" \
        --steps "${STEPS_SPEC:-2000}" --decay-steps 300 --lr 2e-4 --checkpoint-every 500 > "$WORK/spec-$name.log" 2>&1
    train_one "$name" --style-name "$name-tw1000" --save-model-dir "$WORK/spec-tw/$name" \
        --init "$WORK/spec/$name/$name-plain.safetensors" --steps "${STEPS_TW:-400}" --decay-steps 100 --lr 1e-4 \
        --temporal-weight 1000 --still-fraction 0.5 > "$WORK/spec-tw-$name.log" 2>&1
}

members() {  # BASE's own eight as ordinary networks: the NAME-plain networks of the paintings not specialised
    "$PY" -c "import sys; from stylecam.models.members import save_members; save_members(sys.argv[1], sys.argv[2])" \
        "$BASE" "$WORK/plain"
}

# The half-width networks of a painting: (temporal fine-tune, plain network, plain network's training log).
half_networks() {
    if [ -f "$WORK/spec/$1/$1-plain.safetensors" ]; then
        echo "$WORK/spec-tw/$1/$1-tw1000.safetensors $WORK/spec/$1/$1-plain.safetensors $WORK/spec/$1 $WORK/spec-tw/$1"
    else
        echo "$WORK/tw/members/$1.safetensors $WORK/plain/$1.safetensors $(dirname "$BASE") $WORK/tw"
    fi
}

for stage in "$@"; do
    echo "== $stage ($(date -u +%H:%M))"
    case $stage in
    tw) train "${PERCEPTUAL[@]}" --style-name paintings8-tw1000 --save-model-dir "$WORK/tw" --init "$BASE" \
            --steps "${STEPS_TW:-400}" --decay-steps 100 --lr 1e-4 --temporal-weight 1000 --still-fraction 0.5 --image-size 128 > "$WORK/tw.log" 2>&1 ;;
    distill) train "${FAST[@]}" --style-name paintings8-plain-fast --save-model-dir "$WORK/distilled" \
            --init "$ROOT/train/runs/paintings8/fast/paintings8-plain-fast_distilled.safetensors" --teacher "$BASE" \
            --content-weight 0 --style-weight 0 --steps "${STEPS_DISTILL:-3000}" --decay-steps 500 --batch-size 8 --lr 5e-4 --image-size 128 \
            --checkpoint-every 500 > "$WORK/distill.log" 2>&1 ;;
    fast-plain) train "${FAST[@]}" "${PERCEPTUAL[@]}" --style-name paintings8-plain-fast --save-model-dir "$WORK/fast-plain" \
            --init "$WORK/distilled/paintings8-plain-fast.safetensors" --steps "${STEPS_FAST:-300}" --decay-steps 100 --lr 1e-4 \
            --image-size 256 > "$WORK/fast-plain.log" 2>&1 ;;
    fast-tw) train "${FAST[@]}" "${PERCEPTUAL[@]}" --style-name paintings8-fast-tw600 --save-model-dir "$WORK/fast-tw" \
            --init "$WORK/distilled/paintings8-plain-fast.safetensors" --steps "${STEPS_FAST:-300}" --decay-steps 100 --lr 1e-4 \
            --image-size 256 --temporal-weight 600 --still-fraction 0.5 > "$WORK/fast-tw.log" 2>&1 ;;
    specialize)  # two lanes side by side, each painting's two runs one after the other
        members
        lanes=()
        for lane in 0 1; do
            (for i in "${!SPECIALIZE[@]}"; do if [ $((i % 2)) = "$lane" ]; then specialize "${SPECIALIZE[$i]}"; fi; done) &
            lanes+=($!)
        done
        # a failed run must stop the rebuild: blend would otherwise fall back to the shared-trunk member unnoticed
        for pid in "${lanes[@]}"; do wait "$pid" || fail "specialize: a run failed (see $WORK/spec-*.log)"; done ;;
    blend)
        mkdir -p "$WORK/zoo"
        members
        for name in "${NAMES[@]}"; do
            read -r tw plain _ _ <<< "$(half_networks "$name")"
            "$PY" -m stylecam.pipeline.app.cli blend "$tw:$TW" "$plain:$(awk "BEGIN { print 1 - $TW }")" -o "$WORK/zoo/$name.safetensors"
            "$PY" -m stylecam.pipeline.app.cli blend "$WORK/fast-tw/members/$name.safetensors:$FAST_TW" \
                "$WORK/fast-plain/members/$name.safetensors:$(awk "BEGIN { print 1 - $FAST_TW }")" -o "$WORK/zoo/$name-fast.safetensors"
            cp "$plain" "$WORK/zoo/$name-plain.safetensors"
            cp "$WORK/fast-plain/members/$name.safetensors" "$WORK/zoo/$name-plain-fast.safetensors"
        done ;;
    ship)  # CARD_ONLY=1: rewrite the cards only, e.g. with QUALITY_JSON and EVAL_JSONS (benchmarks/*.py --json/--out)
        for i in "${!NAMES[@]}"; do  # each network with the log of the run that made it
            read -r _ _ plain_log tw_log <<< "$(half_networks "${NAMES[$i]}")"
            history=""  # a specialised painting's card starts where its own runs started
            [ "$plain_log" = "$WORK/spec/${NAMES[$i]}" ] && history="painting $((i + 1)) of the 8-painting network \`$(basename "$BASE" .safetensors)\` (conditional instance norm, train/runs/README.md), taken out as an ordinary network"
            for pair in ":$tw_log" "-fast:$WORK/fast-tw" "-plain:$plain_log" "-plain-fast:$WORK/fast-plain"; do
                suffix=${pair%%:*}
                case $suffix in  # the half-width pair's cards start with the history; the fast ones have their own
                    "") half_history=${history:+$history and fine-tuned alone, on a trunk of its own, into \`${NAMES[$i]}-plain\` (its card has that run)} ;;
                    -plain) half_history=$history ;;
                    *) half_history="" ;;
                esac
                # shellcheck disable=SC2086  # the JSON lists are space-separated on purpose
                "$PY" "$ROOT/scripts/ship_style.py" "$WORK/zoo/${NAMES[$i]}$suffix.safetensors" \
                    --name "${NAMES[$i]}$suffix" --style-file "${FILES[$i]}" --log "${pair#*:}/train_log.csv" \
                    ${CARD_ONLY:+--card-only} ${QUALITY_JSON:+--quality-json $QUALITY_JSON} ${EVAL_JSONS:+--eval-json $EVAL_JSONS} \
                    ${half_history:+--history "$half_history"}
            done
        done ;;
    all)
        "$0" "$BASE" tw & twin=$!; "$0" "$BASE" distill; wait "$twin"
        "$0" "$BASE" fast-plain & twin=$!; "$0" "$BASE" fast-tw; wait "$twin"
        "$0" "$BASE" specialize blend ship ;;
    *) echo "unknown stage: $stage (all, tw, distill, fast-plain, fast-tw, specialize, blend, ship)" >&2; exit 2 ;;
    esac
done
