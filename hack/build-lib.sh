# Sourced by hack/build-tools.sh and hack/build-peers.sh: builds a binary
# from a tools module of hack/tools/ into bin/, unless it is built already.
# The sourcing script sets root, bin and label (its name, for the messages).

# Each binary has a stamp, bin/.<name>.stamp: a hash of its tools module's
# go.mod, its package and its flags. When one changes (a new version, new
# flags), that binary is rebuilt, and only that one: adding a command to a
# module does not rebuild the others (a rebuild replaces the binary atomically,
# so a test running meanwhile keeps working).
stamp_of() { # stamp_of <tools module dir> <package> <ldflags>
	{ cat "${root}/hack/tools/$1/go.mod"; echo "$2 $3"; } | sha256sum | cut -d' ' -f1
}

build() { # build <tools module dir> <output name> <package> [ldflags]
	local dir="$1" out="$2" pkg="$3" ldflags="${4:-}"
	local stamp stampfile="${bin}/.${out}.stamp"
	stamp="$(stamp_of "${dir}" "${pkg}" "${ldflags}")"
	if [[ -x "${bin}/${out}" && "$(cat "${stampfile}" 2>/dev/null)" == "${stamp}" ]]; then
		return 0
	fi
	echo "${label}: building ${out} from ${pkg}" >&2
	local start=${SECONDS}
	(cd "${root}/hack/tools/${dir}" &&
		CGO_ENABLED=0 go build -trimpath -ldflags="-s -w ${ldflags}" -o "${bin}/${out}.tmp" "${pkg}")
	mv "${bin}/${out}.tmp" "${bin}/${out}"
	echo "${stamp}" > "${stampfile}"
	echo "${label}: built ${out} in $((SECONDS - start)) s" >&2
}
