# bash completion for callroute(1)
_callroute()
{
    local cur prev words cword
    _init_completion 2>/dev/null || {
        cur=${COMP_WORDS[COMP_CWORD]}; prev=${COMP_WORDS[COMP_CWORD-1]}
        words=("${COMP_WORDS[@]}"); cword=$COMP_CWORD
    }
    local cmds="check normalize route dial inbound simulate test diff compile users bench --help --version"
    if [ "$cword" -le 1 ]; then
        COMPREPLY=($(compgen -W "$cmds" -- "$cur"))
        return
    fi
    case $prev in
        --config|--batch|--numbers|--log|--save|--library|--output|-o)
            COMPREPLY=($(compgen -f -- "$cur")); return ;;
        --db|--state|--include-dir)
            COMPREPLY=($(compgen -d -- "$cur")); return ;;
        --format) COMPREPLY=($(compgen -W "xml csv" -- "$cur")); return ;;
        --owner) COMPREPLY=($(compgen -u -- "$cur")); return ;;
    esac
    local opts
    case ${words[1]} in
        check) opts="--config --db --include-dir --max-wait --json" ;;
        normalize) opts="--config --profile --include-dir --json" ;;
        route) opts="--config --from --db --down --batch --spread --trace --include-dir --json" ;;
        dial) opts="--config --profile --include-dir --json --trace" ;;
        inbound) opts="--config --db --from --endpoint --gateway --json" ;;
        simulate) opts="--config --start --state --until --log --stats --service-level --json" ;;
        test) opts="--config --db --verbose" ;;
        diff) opts="--config --from --numbers --generate" ;;
        compile) opts="--config --output -o --include-dir --owner" ;;
        users) opts="import export list show remove --db --replace --owner --format --json" ;;
        bench) opts="--config --generate --numbers --seconds --reload-ms --reloads --threads --save --seed --json --baseline --runs --rgs --agents --groups --waiting --events --model --scale --config-scale --keep --warmup --trace-slow --text --host-handles" ;;
    esac
    if [[ $cur == -* || ${words[1]} == users ]]; then
        COMPREPLY=($(compgen -W "$opts --help --library" -- "$cur"))
    else
        COMPREPLY=($(compgen -f -- "$cur"))
    fi
}
complete -F _callroute callroute
