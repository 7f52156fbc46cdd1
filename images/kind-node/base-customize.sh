#!/usr/bin/env bash
# mmdebstrap --customize-hook for the kind base root filesystem: what kind's images/base/Dockerfile
# does after `clean-install`, on a rootfs built from Debian's own packages (containerd, runc, the CNI
# plugins) instead of kind's upstream builds.
#
#   base-customize.sh ROOTFS KIND_BASE_FILES
#
# KIND_BASE_FILES is images/base/files of the pinned kind module (from the Go module proxy, read at
# build time; nothing of it is committed here).
set -o errexit -o nounset -o pipefail
root=$1 files=$2

# kind's own files: entrypoint, systemd units (kubelet, containerd, undo-mount-hacks), sysctl.d,
# containerd config, /kind/bin helpers (as its Dockerfile's COPY lines lay them out).
install -d -m 0755 "$root/kind" "$root/kind/bin" "$root/usr/local/bin" "$root/usr/local/sbin" "$root/LICENSES"
install -m 0755 "$files"/usr/local/bin/* "$root/usr/local/bin/"
install -m 0755 "$files"/kind/bin/* "$root/kind/bin/"
install -m 0644 "$files"/kind/README.txt "$root/kind/"
install -m 0644 "$files"/LICENSES/* "$root/LICENSES/"
install -m 0644 "$files"/etc/crictl.yaml "$root/etc/"
install -D -m 0644 -t "$root/etc/containerd" "$files"/etc/containerd/*
install -D -m 0644 -t "$root/etc/default" "$files"/etc/default/*
install -D -m 0644 -t "$root/etc/sysctl.d" "$files"/etc/sysctl.d/*
install -D -m 0644 -t "$root/etc/systemd/system" "$files"/etc/systemd/system/*.service "$files"/etc/systemd/system/*.slice
install -D -m 0644 -t "$root/etc/systemd/system/kubelet.service.d" "$files"/etc/systemd/system/kubelet.service.d/*

# Debian installs containerd/runc under /usr/bin and /usr/sbin; kind's units and tools expect
# /usr/local/{bin,sbin} (where kind puts its own builds).
for b in containerd ctr containerd-shim-runc-v2; do ln -sf "/usr/bin/$b" "$root/usr/local/bin/$b"; done
ln -sf /usr/sbin/runc "$root/usr/local/sbin/runc"
# Debian's CNI plugins live in /usr/lib/cni; containerd's CRI config looks in /opt/cni/bin.
install -d -m 0755 "$root/opt/cni/bin"
for p in "$root"/usr/lib/cni/*; do ln -sf "/usr/lib/cni/${p##*/}" "$root/opt/cni/bin/${p##*/}"; done

# The pause image is ours (catatonit -P): its tag is the one kubeadm 1.34 names.
sed -i 's|sandbox_image = "registry.k8s.io/pause:3.10"|sandbox_image = "registry.k8s.io/pause:3.10.1"|' \
    "$root/etc/containerd/config.toml"
grep -q 'sandbox_image = "registry.k8s.io/pause:3.10.1"' "$root/etc/containerd/config.toml"

# Hosts without CAP_SYS_RESOURCE (this one): pods' negative oom_score_adj must be clamped (as kind
# does for rootless nodes), and systemd must not raise limits for containerd/journald (generator).
sed -i 's/restrict_oom_score_adj = false/restrict_oom_score_adj = true/' "$root/etc/containerd/config.toml"
grep -q 'restrict_oom_score_adj = true' "$root/etc/containerd/config.toml"
install -D -m 0755 "$(dirname "$0")/leviathan-limits-generator" "$root/etc/systemd/system-generators/leviathan-limits"

# The runtime spec kind's runc handler uses: `ctr oci spec` plus kind's product-files hook, no rlimits.
chroot "$root" /bin/sh -c 'ctr oci spec | jq ".hooks.createContainer[.hooks.createContainer|length] |= . + {\"path\": \"/kind/bin/mount-product-files.sh\"}" | jq "del(.process.rlimits)" > /etc/containerd/cri-base.json'

# Services: as kind's Dockerfile (trimmed units, kmsg off, init link, enabled units).
find "$root/lib/systemd/system/sysinit.target.wants/" -name "systemd-tmpfiles-setup.service" -delete
rm -f "$root"/lib/systemd/system/multi-user.target.wants/* "$root"/etc/systemd/system/*.wants/* \
    "$root"/lib/systemd/system/local-fs.target.wants/* "$root"/lib/systemd/system/sockets.target.wants/*udev* \
    "$root"/lib/systemd/system/sockets.target.wants/*initctl* "$root"/lib/systemd/system/basic.target.wants/*
echo "ReadKMsg=no" >> "$root/etc/systemd/journald.conf"
ln -sf /usr/lib/systemd/systemd "$root/sbin/init"
chroot "$root" systemctl enable kubelet.service containerd.service undo-mount-hacks.service
chroot "$root" systemctl mask systemd-binfmt.service
install -d -m 0755 "$root/etc/kubernetes/manifests"
# An image-build leftover that would make every node share one identity.
: > "$root/etc/machine-id"
