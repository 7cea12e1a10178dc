#!/usr/bin/env bash
# Rebuild the zoo's 32 eight-painting networks from a checkpoint of train/runs/paintings8 (CPU, one core a run).
#
#   scripts/rebuild_zoo.sh BASE all           BASE: e.g. train/runs/paintings8/paintings8_step011950_decayed.safetensors
#   scripts/rebuild_zoo.sh BASE STAGE...      one stage or a few, in order
#
# `all` is every stage, two runs side by side where they can be (about 4 hours on 2 cores). The stages, in
# order (each one's inputs are the earlier ones' outputs under $WORK):
#   tw          temporal fine-tune of all eight paintings at once (the temporal half-width members)
#   distill     an eight-painting fast_net pulled towards BASE's outputs (pixel loss, no VGG: cheap)
#   fast-plain  its perceptual fine-tune (NAME-plain-fast)
#   fast-tw     the same with the temporal loss (the temporal fast members)
#   specialize  for the paintings in SPECIALIZE: BASE's member fine-tuned alone, on a trunk of its own (NAME-plain),
#               then its own temporal fine-tune (docs/benchmarks.md, "One painting's own trunk")
#   fast-specialize  for every painting: its fast-plain member fine-tuned alone with skips (models/fast_net.py),
#               on a trunk of its own (NAME-plain-fast), then its own temporal fine-tune (docs/benchmarks.md,
#               "Fast networks with skips")
#   refine, fast-refine  for the paintings in SPEC_REFINE / FAST_REFINE: a second round of their plain network
#               (half width / fast), then (instead of after the first round) its temporal fine-tune
#               (and for those in SPEC_REFINE_MEAN / FAST_REFINE_MEAN, the plain network is the mean of the
#               round and the one before it: stage refine-mean alone);
#   refine3, refine4, refine5 ...  round N (3 or more) of the half-width plain networks that have one (ROUND_WEIGHT),
#               from round N-1 (or its mean), then the temporal fine-tune where N is the painting's last round
#   specialize-tw, fast-specialize-tw  only the second run of each (the temporal fine-tune), from the first's result
#   blend       per painting NAME = 0.4 tw + 0.6 plain, NAME-fast = 0.7 fast-tw + 0.3 plain-fast (TW, FAST_TW, and
#               TW_SHARE, FAST_TW_SHARE where a painting differs, FAST_TW_LAYERS where its layers do);
#               for a specialised painting, tw and plain are its own two fine-tunes
#   ship        every network into models/zoo/ with its card and gallery row (scripts/ship_style.py)
# The painting is at 512 px throughout; `tw`, `distill` and the specialising fine-tunes train on 128 px crops
# (docs/benchmarks.md, "Training crop size"), fast-plain and fast-tw on 256 px ones (there the temporal one of
# the shared trunk kept more of the style).
# Each run ends on a cosine decay of its learning rate (--decay-steps).
#
# Environment: KINDS (blend and ship only these kinds of network: "half fast", the default, "half" or "fast"),
# ONLY (refineN, blend and ship only these paintings, e.g. ONLY="great_wave night_cafe"; default all eight),
# WORK (default /var/tmp/stylecam-zoo), CONTENT (the training photos less the held-out ones:
# `benchmarks/quality.py --training-folder DIR`), VGG (`stylecam vgg import-hed -o FILE`), STEPS_* below.
# The painting lists below (SPECIALIZE, SPEC_REFINE, ...) can be set too, e.g. SPEC_REFINE="udnie"; set empty, none.
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
COMMON=(--content-dir "$CONTENT" --style-size 512 --warmup-steps 20 --precision auto --log-every 1 --sample-every 0 --width 16)
PERCEPTUAL=(--vgg-weights "$VGG" --clip-grad 4 --style-weight 1.0 --checkpoint-every 100)
FAST=(--arch fast_net --blocks 3)
FAST_SKIPS=("${FAST[@]}" --skips)  # the fast networks fine-tuned alone (models/fast_net.py)
TW=${TW:-0.4}            # the temporal fine-tune's share of NAME (docs/benchmarks.md, "Why still-camera pairs and blends")
FAST_TW=${FAST_TW:-0.7}  # and of NAME-fast
# Per painting where it differs: the least of 0.3, 0.4 and 0.5 at which NAME's E_warp on the four real clips stays
# within 0.6x its twin's (docs/benchmarks.md, "Shares of the temporal fine-tune"); less of it is more style.
# Every shipped NAME keeps all six clips of benchmarks/temporal.py within 0.6x, the synthetic ones too.  composition_vii's
# and udnie's longer fine-tunes (SPEC_TW_MORE) flicker less, which made room for 0.3 and 0.4 (0.56x and 0.55x on
# the office clip; at 0.3 udnie's came to 0.62x).
# night_cafe's fine-tune at temporal weight 500 (SPEC_TEMPORAL_WEIGHT) takes 0.38 (at 0.36 the office clip came to
# 0.603x), great_wave's 0.4 (0.59x), composition_vii's 0.4 after its 800 more steps (SPEC_TW_MORE; 0.58x, at 0.35
# 0.61x; 0.5 of the 400-step one).
# shipwreck_of_the_minotaur's NAME is its fine-tune alone (after its second round): every blend with the round was
# worse than both on content loss and than the round on style, and at 0.5 its office clip still came to 0.60x.
declare -A TW_SHARE=([starry_night]=0.3 [great_wave]=0.4 [night_cafe]=0.38 [udnie]=0.4 [composition_vii]=0.4
                     [shipwreck_of_the_minotaur]=1)
# shipwreck_of_the_minotaur's fast one is its temporal fine-tune alone: at 0.7 its E_warp on the office clip was 0.63x;
# composition_vii's, whose E_warp had the most room, takes 0.5 (at 0.4 the office clip came to 0.67x).
# the_scream's takes 0.4, but its residual blocks wholly from the fine-tune (FAST_TW_LAYERS).
declare -A FAST_TW_SHARE=([shipwreck_of_the_minotaur]=1 [composition_vii]=0.5 [the_scream]=0.4)
# Per painting where the fine-tune's share differs between layers (`stylecam blend --layer-weights`): the_scream's
# fast fine-tune steadies its output in its residual blocks at little cost, and costs content and style loss in
# its encoder and decoder (docs/benchmarks.md, "Layer-wise shares of the temporal fine-tune").
declare -A FAST_TW_LAYERS=([the_scream]="residuals=1")
KINDS=${KINDS:-half fast}
read -r -a ONLY <<< "${ONLY:-${NAMES[*]}}"
# The paintings whose half-width networks get a trunk of their own (all eight), and the style weight of each
# one's fine-tunes where it is not 1: more style where content loss had room to spare.
read -r -a SPECIALIZE <<< "${SPECIALIZE-${NAMES[*]}}"
read -r -a FAST_SPECIALIZE <<< "${FAST_SPECIALIZE-${NAMES[*]}}"
declare -A SPEC_STYLE_WEIGHT=([starry_night]=1.5 [great_wave]=1.5 [composition_vii]=1.4 [night_cafe]=1.3 [the_scream]=1.2)
# A second round of 2000 steps for these half-width ones, at these style weights (stage refine); night_cafe's,
# the_scream's and composition_vii's are 3000 steps long, their first rounds' losses still falling at the end.
# the_scream's first round was over on content loss and not style: its second has less style weight;
# composition_vii's, shipwreck_of_the_minotaur's and starry_night's the other way round.
read -r -a SPEC_REFINE <<< "${SPEC_REFINE-great_wave wheat_field night_cafe the_scream composition_vii shipwreck_of_the_minotaur starry_night}"
declare -A SPEC_REFINE_WEIGHT=([great_wave]=1.5 [wheat_field]=1.3 [night_cafe]=1.3 [the_scream]=1.0 [composition_vii]=1.8
                              [shipwreck_of_the_minotaur]=1.3 [starry_night]=1.7)
declare -A SPEC_REFINE_STEPS=([night_cafe]=3000 [the_scream]=3000 [composition_vii]=3000)
refine_steps() { echo "${SPEC_REFINE_STEPS[$1]:-${STEPS_SPEC:-2000}}"; }  # NAME: the length of its second round
# NAME-plain as the weight-space mean of the two rounds, for the paintings whose second round overshot: the
# first was outside its box on style loss, the second on content loss; wheat_field's mean is inside (0.5 x
# each), composition_vii's 0.5 % over on style loss (no share of its second round came inside).
declare -A SPEC_REFINE_MEAN=([wheat_field]=0.5 [composition_vii]=0.5)
# Later rounds (stages refine3, refine4, ...): round N of a painting's half-width plain network starts from round
# N-1 (or that round's mean) and runs ROUND_STEPS[painting:N] steps (default 1500) at style weight
# ROUND_WEIGHT[painting:N]; where ROUND_MEAN[painting:N] is set, the network taken on is that share x round N +
# the rest x round N-1.  A painting's last round is the highest N it has a weight for.
#  - A third round for great_wave, whose second was still over on style loss; it overshot to the content side, so
#    its mean is 0.3 x the third + 0.7 x the second.  And for the_scream, whose second (at less style weight)
#    overshot to the content side: its third is back at 1.2, and NAME-plain is 0.8 x it + 0.2 x the second (the
#    third alone was inside by 0.1 % of content loss, the mean by 1 % on both).  composition_vii's third starts
#    from the mean of its first two, which sat on the box's corner.  night_cafe's second round left it inside
#    with content loss to spare (0.94x the limit): its third trades some of that for style, at more style
#    weight, so that NAME (which the temporal fine-tune costs style) comes inside too.
#  - A fourth round for great_wave, from the third's mean: that mean sat on the content limit and 6 % over the
#    style one, and its rounds' losses were still falling when they ended.
#  - A fifth for great_wave, 3000 steps at the fourth's weight: the fourth ended 2 % over its content limit and on
#    its style limit, its losses still falling; the fifth lowered both, to 0.3 % over on content and 2 % inside on
#    style.  A sixth, 1000 steps at a little less style weight, overshot to the style side (2 % inside on content,
#    0.4 % over on style): NAME-plain is the mean of the two, 1 % inside on both.
declare -A ROUND_WEIGHT=([great_wave:3]=1.8 [the_scream:3]=1.2 [composition_vii:3]=1.6 [night_cafe:3]=1.6
                         [great_wave:4]=1.7 [great_wave:5]=1.7 [great_wave:6]=1.6)
declare -A ROUND_STEPS=([night_cafe:3]=1000 [great_wave:5]=3000 [great_wave:6]=1000)
declare -A ROUND_MEAN=([great_wave:3]=0.3 [the_scream:3]=0.8 [great_wave:6]=0.5)
round_steps() {  # NAME N: the length of that round (2 or more)
    case $2 in 2) refine_steps "$1" ;; *) echo "${ROUND_STEPS[$1:$2]:-1500}" ;; esac
}
round_share() {  # NAME N: the share of round N in its mean with round N-1; none where the round is taken alone
    case $2 in 2) echo "${SPEC_REFINE_MEAN[$1]:-}" ;; *) echo "${ROUND_MEAN[$1:$2]:-}" ;; esac
}
last_round() {  # NAME: the number of its last half-width round (1: the specialize stage, 2: refine)
    local n=2
    while [ -n "${ROUND_WEIGHT[$1:$((n + 1))]:-}" ]; do n=$((n + 1)); done
    if [ "$n" = 2 ] && ! listed "$1" "${SPEC_REFINE[@]}"; then n=1; fi
    echo "$n"
}
round_dir() {  # N: the folder under $WORK of half-width round N
    case $1 in 1) echo spec ;; 2) echo spec-refine ;; *) echo "spec-refine$1" ;; esac
}
round_weight() {  # NAME N: the style weight of that round
    case $2 in
        1) echo "${SPEC_STYLE_WEIGHT[$1]:-1.0}" ;;
        2) echo "${SPEC_REFINE_WEIGHT[$1]:-1.0}" ;;
        *) echo "${ROUND_WEIGHT[$1:$2]:-1.0}" ;;
    esac
}
# The same for the fast networks with skips, whose content loss falls furthest (starry_night's had the most room)
declare -A FAST_STYLE_WEIGHT=([starry_night]=2.5 [great_wave]=2 [composition_vii]=1.8 [udnie]=1.2)
# A second round of 1500 steps for the fast networks still outside their box after the first (whose losses were
# still falling), at these style weights (docs/benchmarks.md, "A second round and a lighter temporal loss").
read -r -a FAST_REFINE <<< "${FAST_REFINE-great_wave shipwreck_of_the_minotaur starry_night udnie the_scream night_cafe}"
declare -A FAST_REFINE_WEIGHT=([great_wave]=2 [shipwreck_of_the_minotaur]=1.3 [starry_night]=2 [udnie]=1.8 [the_scream]=2.5 [night_cafe]=2)
# starry_night's is 3000 steps long: after 1500 its plain network was 1.26x the limits on both losses (1.25x allowed)
declare -A FAST_REFINE_STEPS=([starry_night]=3000)
# the_scream's second round at 2.5 overshot to the content side: its plain network is 0.8 x it + 0.2 x the first
declare -A FAST_REFINE_MEAN=([the_scream]=0.8)
# The temporal weight of a fast painting's temporal fine-tune where it is not 1000: at 1000 E_warp came to
# 0.16-0.47x the twin's, far under the 0.6x target, at the most cost in style; and its style weight where it
# is not 1.5x the plain run's.  composition_vii's at 500 came inside its box at 0.5 of it (at 1000 it was 9 % over
# on style loss at E_warp <= 0.49x).
declare -A FAST_TEMPORAL_WEIGHT=([great_wave]=500 [starry_night]=500 [shipwreck_of_the_minotaur]=500 [wheat_field]=500 [the_scream]=500 [night_cafe]=500
                                 [composition_vii]=500)
declare -A FAST_TW_STYLE_WEIGHT=([great_wave]=6 [starry_night]=4.5 [shipwreck_of_the_minotaur]=3 [wheat_field]=2.6)
mkdir -p "$WORK"

listed() { local word=$1; shift; [[ " $* " == *" $word "* ]]; }  # WORD LIST...: whether WORD is one of LIST
for name in "${ONLY[@]}"; do listed "$name" "${NAMES[@]}" || fail "ONLY: not one of the eight paintings: $name"; done

train_1core() {  # `stylecam train` on one core: the other one runs the twin stage or lane
    OMP_NUM_THREADS=1 "$PY" -c "import torch; torch.set_num_threads(1); from stylecam.pipeline.app.cli import main; main()" train "$@"
}

train() {  # all eight paintings at once
    train_1core "${PAINTINGS[@]}" "${COMMON[@]}" "$@"
}

train_one() {  # NAME, then train's options: that painting alone, one core
    local name=$1 i; shift
    for i in "${!NAMES[@]}"; do [ "${NAMES[$i]}" = "$name" ] && break; done
    [ "${NAMES[$i]}" = "$name" ] || fail "not one of the eight paintings: $name"
    train_1core --style-image "$S/${FILES[$i]}" "${COMMON[@]}" "${PERCEPTUAL[@]}" --style-weight "${SPEC_STYLE_WEIGHT[$name]:-1.0}" \
        --image-size 128 "$@"
}

specialize() {  # NAME: its own trunk (2000 steps from BASE's member), then the temporal fine-tune of that
    local name=$1
    train_one "$name" --style-name "$name-plain" --save-model-dir "$WORK/spec/$name" --init "$WORK/plain/$name.safetensors" \
        --steps "${STEPS_SPEC:-2000}" --decay-steps 300 --lr 2e-4 --checkpoint-every 500 > "$WORK/spec-$name.log" 2>&1
    # a painting that gets a second round has its temporal fine-tune after that one
    listed "$name" "${SPEC_REFINE[@]}" || specialize_tw "$name"
}

later_round() {  # N NAME: round N (2 or more) of its half-width network, from round N-1 (or its mean); then, if N is
    local n=$1 name=$2 start dir  # its last round, its temporal fine-tune
    start=$(round_network "$WORK/$(round_dir $((n - 1)))/$name" "$name-plain")
    [ -n "$start" ] || fail "$(round_stage "$n"): no round $((n - 1)) of $name in $WORK/$(round_dir $((n - 1)))/$name to start from"
    dir=$(round_dir "$n")
    train_one "$name" --style-name "$name-plain" --save-model-dir "$WORK/$dir/$name" \
        --init "$start" --style-weight "$(round_weight "$name" "$n")" \
        --steps "$(round_steps "$name" "$n")" --decay-steps 300 --lr 2e-4 --checkpoint-every 500 > "$WORK/$dir-$name.log" 2>&1
    round_mean "$name" "$(round_stage "$n")"
    [ "$(last_round "$name")" -gt "$n" ] || specialize_tw "$name"
}

round_stage() { if [ "$1" = 2 ]; then echo refine; else echo "refine$1"; fi; }  # N: the stage that runs round N
refine() { later_round 2 "$1"; }  # NAME: the second round (stage refine)
later_round_n() { later_round "$ROUND_N" "$1"; }  # NAME: in_lanes' form, the round set by the stage

later_stages() {  # refine3 ... up to the last later round of any painting
    local key n max=2
    for key in "${!ROUND_WEIGHT[@]}"; do n=${key#*:}; [ "$n" -le "$max" ] || max=$n; done
    for ((n = 3; n <= max; n++)); do echo "refine$n"; done
}

round_history() {  # NAME FOLDER MEMBER: what a card says came before the round run in FOLDER (its own run has the log)
    local name=$1 round n text=$3 mean
    case $(basename "$(dirname "$2")") in spec) round=1 ;; spec-refine) round=2 ;; *) round=$(basename "$(dirname "$2")"); round=${round#spec-refine} ;; esac
    [ "$round" -ge 2 ] && text+=", fine-tuned alone for ${STEPS_SPEC:-2000} steps at style weight $(round_weight "$name" 1) (the \`specialize\` stage)"
    for ((n = 2; n < round; n++)); do
        mean=$(round_share "$name" "$n")
        if [ "$n" = 2 ]; then text+=" and"; else text+=", then"; fi
        text+=" $(round_steps "$name" "$n") more at $(round_weight "$name" "$n") (\`$(round_stage "$n")\`)${mean:+, taken as $mean × that round + the rest × the one before}"
    done
    echo "$text"
}

# NETWORK DIR PREVIOUS LABEL SHARE: where SHARE is set, DIR's NETWORK-mean = SHARE x its round (DIR/NETWORK) + the
# rest x the network before it (the file PREVIOUS, copied in under a name of its own, LABEL, which its card shows)
refine_mean() {
    local network=$1 dir=$2 previous=$3 label=$4 share=$5
    [ -n "$share" ] || return 0
    cp "$previous" "$dir/$network-$label.safetensors"
    "$PY" -m stylecam.pipeline.app.cli blend "$dir/$network.safetensors:$share" \
        "$dir/$network-$label.safetensors:$(awk "BEGIN { print 1 - $share }")" -o "$dir/$network-mean.safetensors" --style-name "$network"
}

round_mean() {  # NAME refine|refineN|fast-refine: refine_mean of that round with the one before, at its share
    local n
    case $2 in
        refine|refine[3-9]) n=${2#refine}; n=${n:-2}
            refine_mean "$1-plain" "$WORK/$(round_dir "$n")/$1" "$(round_network "$WORK/$(round_dir $((n - 1)))/$1" "$1-plain")" \
                "round$((n - 1))" "$(round_share "$1" "$n")" ;;
        fast-refine) refine_mean "$1-plain-fast" "$WORK/fast-refine/$1" "$WORK/fast-spec/$1/$1-plain-fast.safetensors" round1 \
            "${FAST_REFINE_MEAN[$1]:-}" ;;
    esac
}

round_network() {  # DIR NETWORK: the round's NETWORK in DIR, or its mean with the one before (refine_mean); none if untrained
    local file
    for file in "$1/$2-mean.safetensors" "$1/$2.safetensors"; do
        if [ -f "$file" ]; then echo "$file"; return; fi
    done
}

# A painting's half-width plain network: (checkpoint, folder of its run, its style weight) of its last round
half_plain() {
    local n dir file
    for ((n = $(last_round "$1"); n >= 1; n--)); do
        dir=$WORK/$(round_dir "$n")/$1
        file=$(round_network "$dir" "$1-plain")
        if [ -n "$file" ]; then echo "$file $dir $(round_weight "$1" "$n")"; return; fi
    done
}

# The temporal loss costs style (fast_net, the_scream: 0.313 -> 0.406 at the plain run's style weight); the
# temporal fine-tunes take 1.5x that weight, which gives most of it back from content loss where there is room
# (docs/benchmarks.md, "Fast networks with skips").
# shipwreck_of_the_minotaur's half-width one keeps 1x: at 1.5x its E_warp on the office clip came to 0.61x its twin;
# so do night_cafe's and the_scream's, whose own-trunk rounds already ran at more style: at 1.5x their NAME went
# over its content limit.  composition_vii's later rounds are at more style: its temporal fine-tune keeps about
# the weight it had after the first (1.35 x 1.6 = 2.16, 1.5 x 1.4 = 2.1 before).
declare -A SPEC_TW_FACTOR=([shipwreck_of_the_minotaur]=1 [night_cafe]=1 [the_scream]=1 [composition_vii]=1.35)
# The half-width temporal fine-tunes that go on for 800 more steps (docs/benchmarks.md, "Longer temporal
# fine-tunes"): their style loss was still falling at step 400, and E_warp fell with it (composition_vii's at
# temporal weight 500 too: "Layer-wise shares of the temporal fine-tune", its end).
read -r -a SPEC_TW_MORE <<< "${SPEC_TW_MORE-shipwreck_of_the_minotaur wheat_field the_scream udnie composition_vii}"
# The temporal weight of a half-width fine-tune where it is not 1000: night_cafe's, composition_vii's, great_wave's,
# shipwreck_of_the_minotaur's and starry_night's at 500 (400 steps; composition_vii's and shipwreck's 400 + 800)
# cost less style loss at the same E_warp than the 1200-step ones at 1000, blended at the same or a larger share
# (docs/benchmarks.md, "Layer-wise shares of the temporal fine-tune", its end; "A second round for
# shipwreck_of_the_minotaur and starry_night").
declare -A SPEC_TEMPORAL_WEIGHT=([night_cafe]=500 [composition_vii]=500 [great_wave]=500 [shipwreck_of_the_minotaur]=500
                                 [starry_night]=500)
spec_tw_name() { echo "$1-tw${SPEC_TEMPORAL_WEIGHT[$1]:-1000}"; }  # NAME: its half-width temporal fine-tune's name
tw_style_weight() { awk "BEGIN { print ${2:-1.5} * $1 }"; }  # WEIGHT [FACTOR]

specialize_tw() {  # NAME: the temporal fine-tune of its own-trunk network (stage specialize-tw redoes only this)
    local name=$1 plain weight tw temporal=${SPEC_TEMPORAL_WEIGHT[$1]:-1000}
    read -r plain _ weight <<< "$(half_plain "$name")"
    weight=$(tw_style_weight "$weight" "${SPEC_TW_FACTOR[$name]:-1.5}")
    tw=$(spec_tw_name "$name")
    train_one "$name" --style-name "$tw" --save-model-dir "$WORK/spec-tw/$name" \
        --init "$plain" --style-weight "$weight" \
        --steps "${STEPS_TW:-400}" --decay-steps 100 --lr 1e-4 --temporal-weight "$temporal" --still-fraction 0.5 > "$WORK/spec-tw-$name.log" 2>&1
    listed "$name" "${SPEC_TW_MORE[@]}" || return 0
    # the style loss the temporal loss took was still coming back at step 400: 800 more steps, from there
    train_one "$name" --style-name "$tw" --save-model-dir "$WORK/spec-tw/$name/more" \
        --init "$WORK/spec-tw/$name/$tw.safetensors" --style-weight "$weight" \
        --steps 800 --decay-steps 200 --lr 1e-4 --temporal-weight "$temporal" --still-fraction 0.5 > "$WORK/spec-tw-more-$name.log" 2>&1
}

fast_specialize() {  # NAME: its fast-plain member with skips on a trunk of its own, then its temporal fine-tune
    local name=$1
    train_one "$name" "${FAST_SKIPS[@]}" --style-name "$name-plain-fast" --save-model-dir "$WORK/fast-spec/$name" \
        --init "$WORK/fast-plain/members/$name.safetensors" --style-weight "${FAST_STYLE_WEIGHT[$name]:-1.0}" \
        --steps "${STEPS_FAST_SPEC:-1500}" --decay-steps 300 --lr 3e-4 --checkpoint-every 500 > "$WORK/fast-spec-$name.log" 2>&1
    # a painting that gets a second round has its temporal fine-tune after that one
    listed "$name" "${FAST_REFINE[@]}" || fast_specialize_tw "$name"
}

fast_refine() {  # NAME: the second round of its fast network with skips, then its temporal fine-tune
    local name=$1
    train_one "$name" "${FAST_SKIPS[@]}" --style-name "$name-plain-fast" --save-model-dir "$WORK/fast-refine/$name" \
        --init "$WORK/fast-spec/$name/$name-plain-fast.safetensors" --style-weight "${FAST_REFINE_WEIGHT[$name]:-1.0}" \
        --steps "${FAST_REFINE_STEPS[$name]:-${STEPS_FAST_SPEC:-1500}}" --decay-steps 300 --lr 2e-4 --checkpoint-every 500 > "$WORK/fast-refine-$name.log" 2>&1
    round_mean "$name" fast-refine
    fast_specialize_tw "$name"
}

# A painting's fast plain network: (checkpoint, folder of its run, its style weight) of its last round
fast_plain() {
    local file
    file=$(round_network "$WORK/fast-refine/$1" "$1-plain-fast")
    if [ -n "$file" ]; then
        echo "$file $WORK/fast-refine/$1 ${FAST_REFINE_WEIGHT[$1]:-1.0}"
    else
        echo "$WORK/fast-spec/$1/$1-plain-fast.safetensors $WORK/fast-spec/$1 ${FAST_STYLE_WEIGHT[$1]:-1.0}"
    fi
}

fast_specialize_tw() {  # NAME: the temporal fine-tune of its fast plain network (stage fast-specialize-tw)
    local name=$1 plain weight
    read -r plain _ weight <<< "$(fast_plain "$name")"
    train_one "$name" "${FAST_SKIPS[@]}" --style-name "$name-fast-tw${FAST_TEMPORAL_WEIGHT[$name]:-1000}" \
        --save-model-dir "$WORK/fast-spec-tw/$name" --init "$plain" \
        --style-weight "${FAST_TW_STYLE_WEIGHT[$name]:-$(tw_style_weight "$weight")}" \
        --steps "${STEPS_TW:-400}" --decay-steps 100 --lr 1e-4 --temporal-weight "${FAST_TEMPORAL_WEIGHT[$name]:-1000}" \
        --still-fraction 0.5 > "$WORK/fast-spec-tw-$name.log" 2>&1
}

in_lanes() {  # FUNCTION NAME...: the names in two lanes side by side; a failed run stops the rebuild
    local fn=$1 lanes=() lane i pid; shift
    local names=("$@")
    for lane in 0 1; do
        (for i in "${!names[@]}"; do if [ $((i % 2)) = "$lane" ]; then "$fn" "${names[$i]}"; fi; done) &
        lanes+=($!)
    done
    # blend would otherwise fall back to the shared-trunk member unnoticed
    for pid in "${lanes[@]}"; do wait "$pid" || fail "$fn: a run failed (see the logs under $WORK)"; done
}

blend_or_copy() {  # TW SHARE PLAIN OUT [blend options]: SHARE x TW + the rest x PLAIN; a share of 1 is TW itself
    local tw=$1 share=$2 plain=$3 out=$4; shift 4
    if [ "$share" = 1 ]; then
        cp "$tw" "$out"
    else
        "$PY" -m stylecam.pipeline.app.cli blend "$tw:$share" "$plain:$(awk "BEGIN { print 1 - $share }")" "$@" -o "$out"
    fi
}

members() {  # BASE's own eight as ordinary networks: the NAME-plain networks of the paintings not specialised
    "$PY" -c "import sys; from stylecam.models.members import save_members; save_members(sys.argv[1], sys.argv[2])" \
        "$BASE" "$WORK/plain"
}

# The half-width networks of a painting: (temporal fine-tune, plain network, plain network's training log).
half_networks() {
    if [ -f "$WORK/spec/$1/$1-plain.safetensors" ]; then
        local plain folder
        read -r plain folder _ <<< "$(half_plain "$1")"
        local tw=$WORK/spec-tw/$1 name
        name=$(spec_tw_name "$1")
        [ -f "$tw/more/$name.safetensors" ] && tw=$tw/more  # the longer fine-tune where there is one
        echo "$tw/$name.safetensors $plain $folder $tw"
    else
        echo "$WORK/tw/members/$1.safetensors $WORK/plain/$1.safetensors $(dirname "$BASE") $WORK/tw"
    fi
}

# The fast networks of a painting, likewise: its own two fine-tunes with skips where fast-specialize made them
fast_networks() {
    if [ -f "$WORK/fast-spec/$1/$1-plain-fast.safetensors" ]; then
        local plain folder
        read -r plain folder _ <<< "$(fast_plain "$1")"
        echo "$WORK/fast-spec-tw/$1/$1-fast-tw${FAST_TEMPORAL_WEIGHT[$1]:-1000}.safetensors $plain $folder $WORK/fast-spec-tw/$1"
    else
        echo "$WORK/fast-tw/members/$1.safetensors $WORK/fast-plain/members/$1.safetensors $WORK/fast-plain $WORK/fast-tw"
    fi
}

# shellcheck disable=SC2086  # KINDS is a space-separated list on purpose
wanted() { listed "$1" $KINDS; }  # blend and ship: KINDS="half fast" (default), or one of the two

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
    specialize)  # each painting's two runs one after the other
        members
        in_lanes specialize "${SPECIALIZE[@]}" ;;
    specialize-tw) in_lanes specialize_tw "${SPECIALIZE[@]}" ;;
    fast-specialize) in_lanes fast_specialize "${FAST_SPECIALIZE[@]}" ;;
    fast-specialize-tw) in_lanes fast_specialize_tw "${FAST_SPECIALIZE[@]}" ;;
    refine) in_lanes refine "${SPEC_REFINE[@]}" ;;
    refine[3-9])  # the paintings (of ONLY) that have that round
        ROUND_N=${stage#refine} names=()
        for name in "${ONLY[@]}"; do [ -z "${ROUND_WEIGHT[$name:$ROUND_N]:-}" ] || names+=("$name"); done
        [ ${#names[@]} = 0 ] || in_lanes later_round_n "${names[@]}" ;;
    refine-mean)  # the means alone, from rounds already trained
        for name in "${SPEC_REFINE[@]}"; do round_mean "$name" refine; done
        for key in "${!ROUND_MEAN[@]}"; do round_mean "${key%%:*}" "refine${key#*:}"; done
        for name in "${FAST_REFINE[@]}"; do round_mean "$name" fast-refine; done ;;
    fast-refine) in_lanes fast_refine "${FAST_REFINE[@]}" ;;
    blend)
        mkdir -p "$WORK/zoo"
        if wanted half; then members; fi
        for name in "${ONLY[@]}"; do
            if wanted half; then
                read -r tw plain _ _ <<< "$(half_networks "$name")"
                blend_or_copy "$tw" "${TW_SHARE[$name]:-$TW}" "$plain" "$WORK/zoo/$name.safetensors"
                cp "$plain" "$WORK/zoo/$name-plain.safetensors"
            fi
            if wanted fast; then
                read -r fast_tw fast_plain _ _ <<< "$(fast_networks "$name")"
                blend_or_copy "$fast_tw" "${FAST_TW_SHARE[$name]:-$FAST_TW}" "$fast_plain" "$WORK/zoo/$name-fast.safetensors" \
                    ${FAST_TW_LAYERS[$name]:+--layer-weights "${FAST_TW_LAYERS[$name]}"}
                cp "$fast_plain" "$WORK/zoo/$name-plain-fast.safetensors"
            fi
        done ;;
    ship)  # CARD_ONLY=1: rewrite the cards only, e.g. with QUALITY_JSON and EVAL_JSONS (benchmarks/*.py --json/--out)
        for i in "${!NAMES[@]}"; do  # each network with the log of the run that made it
            listed "${NAMES[$i]}" "${ONLY[@]}" || continue
            read -r _ _ plain_log tw_log <<< "$(half_networks "${NAMES[$i]}")"
            read -r _ _ fast_plain_log fast_tw_log <<< "$(fast_networks "${NAMES[$i]}")"
            # a specialised network's card starts where its own runs started
            member="painting $((i + 1)) of the 8-painting network"
            history="" fast_history=""
            half_member="$member \`$(basename "$BASE" .safetensors)\` (conditional instance norm, train/runs/README.md), taken out as an ordinary network"
            [[ $plain_log == "$WORK"/spec*/"${NAMES[$i]}" ]] && history=$(round_history "${NAMES[$i]}" "$plain_log" "$half_member")
            fast_member="$member \`paintings8-plain-fast\` (conditional instance norm, the \`fast-plain\` stage of scripts/rebuild_zoo.sh), taken out as an ordinary network and given skips (models/fast_net.py)"
            case $fast_plain_log in
                "$WORK/fast-spec/${NAMES[$i]}") fast_history=$fast_member ;;
                "$WORK/fast-refine/${NAMES[$i]}") fast_history="$fast_member, fine-tuned alone for ${STEPS_FAST_SPEC:-1500} steps at style weight ${FAST_STYLE_WEIGHT[${NAMES[$i]}]:-1.0} (the \`fast-specialize\` stage)" ;;
            esac
            for pair in ":$tw_log" "-fast:$fast_tw_log" "-plain:$plain_log" "-plain-fast:$fast_plain_log"; do
                suffix=${pair%%:*}
                case $suffix in *fast) wanted fast || continue ;; *) wanted half || continue ;; esac
                case $suffix in  # a temporal network's card names its plain twin, whose card has the run before
                    "") card_history=${history:+$half_member and fine-tuned alone, on a trunk of its own, into \`${NAMES[$i]}-plain\` (its card has that run)}
                        # a longer temporal fine-tune: the run below continued the first ${STEPS_TW:-400} steps of it
                        [[ $tw_log == */more ]] && card_history+=", then its temporal fine-tune for ${STEPS_TW:-400} steps (the loss below), \`$(spec_tw_name "${NAMES[$i]}")\`" ;;
                    -plain) card_history=$history ;;
                    -fast) card_history=${fast_history:+$fast_member and fine-tuned alone, on a trunk of its own, into \`${NAMES[$i]}-plain-fast\` (its card has that run)} ;;
                    -plain-fast) card_history=$fast_history ;;
                esac
                # shellcheck disable=SC2086  # the JSON lists are space-separated on purpose
                "$PY" "$ROOT/scripts/ship_style.py" "$WORK/zoo/${NAMES[$i]}$suffix.safetensors" \
                    --name "${NAMES[$i]}$suffix" --style-file "${FILES[$i]}" --log "${pair#*:}/train_log.csv" \
                    ${CARD_ONLY:+--card-only} ${QUALITY_JSON:+--quality-json $QUALITY_JSON} ${EVAL_JSONS:+--eval-json $EVAL_JSONS} \
                    ${card_history:+--history "$card_history"}
            done
        done ;;
    all)
        "$0" "$BASE" tw & twin=$!; "$0" "$BASE" distill; wait "$twin"
        "$0" "$BASE" fast-plain & twin=$!; "$0" "$BASE" fast-tw; wait "$twin"
        # shellcheck disable=SC2046  # one word per later round
        "$0" "$BASE" specialize refine $(later_stages) fast-specialize fast-refine blend ship ;;
    *) echo "unknown stage: $stage (all, tw, distill, fast-plain, fast-tw, specialize, specialize-tw, refine, refine3 ... refine9, refine-mean, fast-specialize, fast-specialize-tw, fast-refine, blend, ship)" >&2; exit 2 ;;
    esac
done
