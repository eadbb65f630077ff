#!/bin/sh
# /init of Ember's default Linux guest (busybox sh; PID 1 in the initramfs).
#
# 1. mounts proc, sysfs, devtmpfs;
# 2. loads the virtio modules for the devices it finds (see load_device_modules);
# 3. prints "EMBER-GUEST-READY <seconds since boot>" on the console;
# 4. runs the command from the kernel command line, else an interactive shell;
# 5. prints "EMBER-GUEST-EXIT <status>" (command only) and powers off.
#
# Command-line parameters read (names contain a dot so the kernel keeps them out
# of init's arguments and environment):
#   ember.cmd64=<base64>   shell command, base64 of its text (any bytes; robust;
#                          what test tooling should use)
#   ember.cmd="<text>"     shell command typed by hand: the kernel's own quoting,
#                          so it may hold spaces but no double quote; without
#                          quotes it is one word (ember.cmd=nproc)
#   ember.modules=a,b      extra modules to load (from those in the initramfs)
# Both command forms run with `sh -c`. Every console byte costs a VM exit, so
# tests should pass "quiet" and print little.

export PATH=/sbin:/bin:/usr/sbin:/usr/bin
export HOME=/root

mount_pseudo_filesystems() {
    mount -t proc proc /proc
    mount -t sysfs sysfs /sys
    mount -t devtmpfs devtmpfs /dev
    mkdir -p /dev/pts /dev/shm
    mount -t devpts devpts /dev/pts
}

# Prints the value of kernel parameter $1 (first occurrence), or nothing.
cmdline_param() {
    for word in $(cat /proc/cmdline); do
        case "$word" in
            "$1="*) echo "${word#*=}"; return 0 ;;
        esac
    done
    return 1
}

# The shell command to run, or nothing for an interactive shell.
guest_command() {
    encoded=$(cmdline_param ember.cmd64) && {
        echo "$encoded" | base64 -d
        return
    }
    line=" $(cat /proc/cmdline)"
    case "$line" in
        *' ember.cmd="'*)
            rest=${line#*' ember.cmd="'}
            echo "${rest%%'"'*}" ;;
        *" ember.cmd="*)
            rest=${line#*" ember.cmd="}
            echo "${rest%% *}" ;;
    esac
}

modaliases_of() {
    cat "$@" 2>/dev/null
}

# Loads modules for the devices present, like a one-shot udev coldplug: first the
# transports (virtio-pci by PCI alias, virtio-mmio by ACPI alias or because the
# command line declares virtio_mmio.device=...), then the drivers of the devices
# that appear on the virtio bus. Only modules shipped in the initramfs can load;
# one modprobe call per pass keeps the number of processes (and exits) small.
load_device_modules() {
    aliases=$(modaliases_of /sys/bus/pci/devices/*/modalias /sys/bus/platform/devices/*/modalias \
        /sys/bus/acpi/devices/*/modalias)
    # busybox modprobe adds "virtio_mmio.*" options from the command line itself.
    # (Debian kernels lack CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES: there, MMIO devices
    # must be described by ACPI, as LNRO0005 objects.)
    case " $(cat /proc/cmdline)" in
        *" virtio_mmio.device="*) aliases="$aliases virtio_mmio" ;;
    esac
    # shellcheck disable=SC2086  # one alias per word, on purpose
    modprobe_all $aliases
    # shellcheck disable=SC2046
    modprobe_all $(modaliases_of /sys/bus/virtio/devices/*/modalias)
    # shellcheck disable=SC2046
    extra=$(cmdline_param ember.modules) && modprobe_all $(echo "$extra" | tr ',' ' ')
}

# modprobe for each argument, in one process; unknown names are ignored.
modprobe_all() {
    [ $# -gt 0 ] && modprobe -q -a "$@"
    return 0
}

# With console=hvc0 (Ember's --console virtio) the console driver is a module: at boot the
# kernel gave init another console or none. Once the modules are loaded, reopen /dev/console
# (the same device as before with console=ttyS0). A failed exec would end PID 1: test first.
take_late_console() {
    { : <>/dev/console; } 2>/dev/null || return 0
    exec </dev/console >/dev/console 2>&1
}

report_ready() {
    read -r uptime _ </proc/uptime
    echo "EMBER-GUEST-READY $uptime"
}

run_command_or_shell() {
    command=$(guest_command)
    if [ -n "$command" ]; then
        sh -c "$command"
        echo "EMBER-GUEST-EXIT $?"
    else
        # cttyhack gives the shell the real console as controlling tty (job control, ^C).
        setsid cttyhack sh
    fi
}

# Powers off through ACPI; a machine without ACPI cannot power off (the kernel
# would only halt), so there reboot: with -no-reboot (or Ember) that ends the VM.
power_off() {
    sync
    if [ -d /sys/firmware/acpi ]; then
        poweroff -f
    fi
    reboot -f
}

mount_pseudo_filesystems
load_device_modules
take_late_console
report_ready
run_command_or_shell
power_off
# Not reached; PID 1 must never exit (the kernel would panic).
while :; do sleep 3600; done
