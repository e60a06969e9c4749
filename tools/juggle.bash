# bash completion for juggle(1): subcommands, options, backends (from
# `juggle --list-backends`), progress modes, files, and job names (from
# `juggle list`, reading the graph that -f and -C on the line name). Installed by `make install` as
# share/bash-completion/completions/juggle.

_juggle_jobs()
{
	local -a args=()
	local i
	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		-f | --file | -C | --directory)
			args+=("${COMP_WORDS[i]}" "${COMP_WORDS[i + 1]}")
			;;
		--file=* | --directory=*)
			args+=("${COMP_WORDS[i]}")
			;;
		esac
	done
	# Tilde and variables as the user typed them are left alone: juggle
	# gets the words as they are, and an unreadable graph gives nothing.
	"${COMP_WORDS[0]}" "${args[@]}" list 2>/dev/null | cut -f1
}

# The backends the juggle being completed knows, one a line.
_juggle_backends()
{
	"${COMP_WORDS[0]}" --list-backends 2>/dev/null
}

_juggle()
{
	local cur prev words cword
	if declare -F _init_completion >/dev/null; then
		_init_completion -n =: || return
	else
		cur=${COMP_WORDS[COMP_CWORD]}
		prev=${COMP_WORDS[COMP_CWORD - 1]}
	fi

	local commands="run compare list graph explain check clean exec-job help"
	local opts="-f --file -C --directory -b --backend -j --jobs --net-jobs
		-k --keep-going -n --dry-run -B --always-make -s --set -v --verbose
		-q --quiet --report --html --trace --junit --archive --progress
		--backends --repeat -h --help -V --version"

	case $prev in
	-f | --file | --report | --html | --trace | --junit | --archive)
		COMPREPLY=($(compgen -f -- "$cur"))
		compopt -o filenames 2>/dev/null
		return
		;;
	-C | --directory)
		COMPREPLY=($(compgen -d -- "$cur"))
		compopt -o filenames 2>/dev/null
		return
		;;
	-b | --backend)
		COMPREPLY=($(compgen -W "$(_juggle_backends)" -- "$cur"))
		return
		;;
	--backends)
		# A comma-separated list: complete the last item.
		local done_part=${cur%"${cur##*,}"}
		COMPREPLY=($(compgen -P "$done_part" -W "$(_juggle_backends)" -- "${cur##*,}"))
		compopt -o nospace 2>/dev/null
		return
		;;
	--progress)
		COMPREPLY=($(compgen -W "auto tty plain none" -- "$cur"))
		return
		;;
	-j | --jobs | --net-jobs | --repeat | -s | --set)
		return
		;;
	esac

	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$opts" -- "$cur"))
		return
	fi

	# Is there a command already? (Skip options and their values.)
	local i word have_command=
	for ((i = 1; i < COMP_CWORD; i++)); do
		word=${COMP_WORDS[i]}
		case $word in
		-f | --file | -C | --directory | -b | --backend | -j | --jobs | --net-jobs | \
			-s | --set | --report | --html | --trace | --junit | --archive | \
			--progress | --backends | --repeat)
			((i++))
			;;
		-*) ;;
		*)
			have_command=$word
			break
			;;
		esac
	done

	COMPREPLY=()
	if [[ -z $have_command ]]; then
		COMPREPLY=($(compgen -W "$commands" -- "$cur"))
	fi
	[[ $have_command == check ]] && return
	# Job names come from files (foreach items): match them by hand, since
	# compgen -W would expand $(...) in them; readline quotes what it
	# inserts (-o filenames), so brackets and spaces arrive intact.
	local name
	while IFS= read -r name; do
		[[ -n $name && $name == "$cur"* ]] && COMPREPLY+=("$name")
	done < <(_juggle_jobs)
	compopt -o filenames 2>/dev/null
}

complete -F _juggle juggle
