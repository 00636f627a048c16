# Bash completion for vm-run, vm-start, vm-stop, vm-shell, vm-balloon and vm-screenshot.
# VM names come from the runtime directory (running VMs, and VMs whose
# command.socket a service manager holds) and from /etc/vmsilo/*.toml.
# shellcheck shell=bash

# The --runtime-dir given on the command line so far, else the default.
_vmsilo_runtime_dir() {
	local i dir=/run/vmsilo
	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		--runtime-dir) dir=${COMP_WORDS[i + 1]} ;;
		--runtime-dir=*) dir=${COMP_WORDS[i]#--runtime-dir=} ;;
		esac
	done
	printf '%s\n' "$dir"
}

# _vmsilo_names running|configured|any: running VMs have a control.socket;
# "any" adds socket-activated ones (command.socket) and configured ones.
_vmsilo_names() {
	local dir f socket sockets=(control.socket)
	dir=$(_vmsilo_runtime_dir)
	[[ $1 == any ]] && sockets+=(command.socket)
	{
		if [[ $1 != configured ]]; then
			for socket in "${sockets[@]}"; do
				for f in "$dir"/*/"$socket"; do
					[[ -S $f ]] && f=${f%/*} && printf '%s\n' "${f##*/}"
				done
			done
		fi
		if [[ $1 != running ]]; then
			for f in /etc/vmsilo/*.toml; do
				[[ -e $f ]] && f=${f##*/} && printf '%s\n' "${f%.toml}"
			done
		fi
	} | sort -u
}

# Index of the first word that is not an option (or an option's value).
_vmsilo_name_index() {
	local i takes_value=" $1 "
	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		--) echo $((i + 1)); return ;;
		--*=*) ;;
		-*) [[ $takes_value == *" ${COMP_WORDS[i]} "* ]] && ((i++)) ;;
		*) echo "$i"; return ;;
		esac
	done
	echo 0
}

# _vmsilo_complete "OPTIONS" "OPTIONS WITH A VALUE" running|configured|any
_vmsilo_complete() {
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]} name_at
	COMPREPLY=()
	case $prev in
	--runtime-dir) mapfile -t COMPREPLY < <(compgen -d -- "$cur"); return ;;
	--config | --log | --vmm) mapfile -t COMPREPLY < <(compgen -f -- "$cur"); return ;;
	--timeout | --wait | --scanout) return ;;
	esac
	name_at=$(_vmsilo_name_index "$2")
	if ((name_at != 0 && name_at < COMP_CWORD)); then
		# After the name: vm-run's command and its arguments; vm-balloon's options.
		case ${COMP_WORDS[0]##*/} in
		vm-run) mapfile -t COMPREPLY < <(compgen -f -- "$cur") ;;
		vm-balloon) [[ $cur == -* ]] && mapfile -t COMPREPLY < <(compgen -W "$1" -- "$cur") ;;
		vm-screenshot) mapfile -t COMPREPLY < <(compgen -f -- "$cur") ;;
		esac
		return
	fi
	if [[ $cur == -* ]]; then
		mapfile -t COMPREPLY < <(compgen -W "$1" -- "$cur")
	else
		mapfile -t COMPREPLY < <(compgen -W "$(_vmsilo_names "$3")" -- "$cur")
	fi
}

_vm_run() {
	_vmsilo_complete "--runtime-dir --detach -d --tty -t --no-tty -T --help" "--runtime-dir" any
}
_vm_start() {
	_vmsilo_complete "--runtime-dir --config --log --timeout --vmm --help" \
		"--runtime-dir --config --log --timeout --vmm" configured
}
_vm_stop() {
	_vmsilo_complete "--runtime-dir --timeout --help" "--runtime-dir --timeout" running
}
_vm_shell() {
	_vmsilo_complete "--runtime-dir --help" "--runtime-dir" running
}

_vm_balloon() {
	_vmsilo_complete "--runtime-dir --wait --stats --json --help" "--runtime-dir --wait" running
}
_vm_screenshot() {
	_vmsilo_complete "--runtime-dir --scanout --help" "--runtime-dir --scanout" running
}

complete -F _vm_run vm-run
complete -F _vm_start vm-start
complete -F _vm_stop vm-stop
complete -F _vm_shell vm-shell
complete -F _vm_balloon vm-balloon
complete -F _vm_screenshot vm-screenshot
