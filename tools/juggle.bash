# bash completion for juggle(1): subcommands, options (also as
# --option=value), backends (from `juggle --list-backends`), progress modes,
# orders, files, and targets: job names, a foreach section's bare name and output
# paths, from `juggle -v list` reading the graph that the -f, -C and -s on
# the line name. Installed by `make install` as
# share/bash-completion/completions/juggle.

# The options that take a value, as a case pattern and as a word list.
_juggle_value_opts="-f --file -C --directory -b --backend -j --jobs --net-jobs -l --load-average -s --set
	--report --html --trace --junit --archive --progress --order --backends --repeat"

# Is $1 an option that takes its value in the next word?
_juggle_takes_value()
{
	local o
	for o in $_juggle_value_opts; do
		[[ $1 == "$o" ]] && return 0
	done
	return 1
}

# $1 without the shell's quoting, as juggle would get it: 'a b', "a b" and
# a\ b are "a b". Nothing is expanded: ~, $VAR and $(...) stay as typed.
_juggle_dequote()
{
	local w=$1 out="" c q="" i
	for ((i = 0; i < ${#w}; i++)); do
		c=${w:i:1}
		if [[ $q == "'" ]]; then
			[[ $c == "'" ]] && q="" || out+=$c
		elif [[ $c == "'" && -z $q ]] || [[ $c == '"' && -z $q ]]; then
			q=$c
		elif [[ $c == '"' ]]; then
			q=""
		elif [[ $c == "\\" && $i -lt $((${#w} - 1)) ]]; then
			((i++))
			out+=${w:i:1}
		else
			out+=$c
		fi
	done
	printf '%s' "$out"
}

# The targets of the graph the line names, one a line: each job, a foreach
# section's bare name before its first instance, then each output.
_juggle_targets()
{
	local -a args=()
	local i word
	for ((i = 1; i < cword; i++)); do
		word=${words[i]}
		case $word in
		--) break ;;
		-f | --file | -C | --directory | -s | --set)
			args+=("$word" "$(_juggle_dequote "${words[i + 1]}")")
			((i++))
			;;
		--file=* | --directory=* | --set=* | -f?* | -C?* | -s?*)
			args+=("$(_juggle_dequote "$word")")
			;;
		-*)
			_juggle_takes_value "$word" && ((i++))
			;;
		esac
	done
	# An unreadable graph gives nothing.
	local line name bare last_bare="" fields
	local -a outputs=()
	while IFS= read -r line; do
		IFS=$'\t' read -r -a fields <<<"$line"
		name=${fields[0]}
		[[ -n $name ]] || continue
		bare=${name%%\[*}
		if [[ $bare != "$name" && $bare != "$last_bare" ]]; then
			printf '%s\n' "$bare"
			last_bare=$bare
		fi
		printf '%s\n' "$name"
		outputs+=("${fields[@]:4}")
	done < <("${words[0]}" "${args[@]}" -v list 2>/dev/null)
	((${#outputs[@]})) && printf '%s\n' "${outputs[@]}"
}

# The backends the juggle being completed knows, one a line.
_juggle_backends()
{
	"${words[0]}" --list-backends 2>/dev/null
}

# words, cword, cur and prev without bash-completion: bash splits
# "--file=x" and "-s a=b" at "=" ("--file" "=" "x"), joined again here; a
# value given as --option=value is completed as the option's value (prev is
# the option).
_juggle_init()
{
	local i
	words=()
	cword=0
	for ((i = 0; i < ${#COMP_WORDS[@]}; i++)); do
		if [[ ${COMP_WORDS[i]} == "=" && ${#words[@]} -gt 1 ]]; then
			words[-1]+="="
			((i == COMP_CWORD)) && cword=$((${#words[@]} - 1))
			if ((i + 1 < ${#COMP_WORDS[@]} && i + 1 <= COMP_CWORD)); then
				((i++))
				words[-1]+=${COMP_WORDS[i]}
				((i == COMP_CWORD)) && cword=$((${#words[@]} - 1))
			fi
			continue
		fi
		words+=("${COMP_WORDS[i]}")
		((i == COMP_CWORD)) && cword=$((${#words[@]} - 1))
	done
	cur=${words[cword]}
	prev=${words[cword - 1]}
	if [[ $cur == --?*=* ]]; then
		prev=${cur%%=*}
		cur=${cur#*=}
	fi
}

_juggle()
{
	local cur prev words cword split # split: set by _init_completion -s
	if declare -F _init_completion >/dev/null; then
		_init_completion -s || return
	else
		_juggle_init
	fi
	# An option's value typed as --option=value: readline replaces only
	# what follows "=" when "=" breaks words (bash's default), else the
	# whole word, which then needs the option in front.
	local pre=
	if [[ ${words[cword]} == --?*=* && $COMP_WORDBREAKS != *=* ]]; then
		pre=$prev=
	fi
	if [[ ${words[cword]} == --?*=* ]] && ! _juggle_takes_value "$prev"; then
		COMPREPLY=()
		return
	fi

	local commands="run compare list graph explain check clean exec-job help"
	local opts="-f --file -C --directory -b --backend -j --jobs --net-jobs
		-l --load-average -k --keep-going -n --dry-run -B --always-make -s --set -v --verbose
		-q --quiet --report --html --trace --junit --archive --progress --order
		--backends --repeat --stale --no-workers --no-jobserver -h --help -V --version --"

	case $prev in
	-f | --file | --report | --html | --trace | --junit | --archive)
		mapfile -t COMPREPLY < <(compgen -P "$pre" -f -- "$cur")
		compopt -o filenames 2>/dev/null
		return
		;;
	-C | --directory)
		mapfile -t COMPREPLY < <(compgen -P "$pre" -d -- "$cur")
		compopt -o filenames 2>/dev/null
		return
		;;
	-b | --backend)
		mapfile -t COMPREPLY < <(compgen -P "$pre" -W "$(_juggle_backends)" -- "$cur")
		return
		;;
	--backends)
		# A comma-separated list: complete the last item.
		local done_part=${cur%"${cur##*,}"}
		mapfile -t COMPREPLY < <(compgen -P "$pre$done_part" -W "$(_juggle_backends)" -- "${cur##*,}")
		compopt -o nospace 2>/dev/null
		return
		;;
	--progress)
		mapfile -t COMPREPLY < <(compgen -P "$pre" -W "auto tty plain none" -- "$cur")
		return
		;;
	--order)
		mapfile -t COMPREPLY < <(compgen -P "$pre" -W "critical file" -- "$cur")
		return
		;;
	-j | --jobs | --net-jobs | -l | --load-average | --repeat | -s | --set)
		# A number or NAME=VALUE: nothing to offer.
		COMPREPLY=()
		return
		;;
	esac

	# Is there a command already, or "--"? (Skip options and their values.)
	local i word have_command= options_end=
	for ((i = 1; i < cword; i++)); do
		word=${words[i]}
		if [[ -n $options_end ]]; then
			[[ -z $have_command ]] && have_command=$word
			continue
		fi
		case $word in
		--) options_end=1 ;;
		-*) _juggle_takes_value "$word" && ((i++)) ;;
		*) [[ -z $have_command ]] && have_command=$word ;;
		esac
	done

	if [[ $cur == -* && -z $options_end ]]; then
		mapfile -t COMPREPLY < <(compgen -W "$opts" -- "$cur")
		return
	fi

	COMPREPLY=()
	if [[ -z $have_command ]]; then
		mapfile -t COMPREPLY < <(compgen -W "$commands" -- "$cur")
	fi
	[[ $have_command == check ]] && return
	# Targets come from files (foreach items, outputs): match them by hand,
	# since compgen -W would expand $(...) in them; readline quotes what it
	# inserts (-o filenames), so brackets and spaces arrive intact.
	local name
	while IFS= read -r name; do
		[[ -n $name && $name == "$cur"* ]] && COMPREPLY+=("$name")
	done < <(_juggle_targets)
	compopt -o filenames 2>/dev/null
}

complete -F _juggle juggle
