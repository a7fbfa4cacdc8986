#!/bin/sh
# Loops frames into vivid's video output, which vivid copies into its video
# capture device (the camera the daemon reads). Run on the rig as root.
#
#   vivid-loop.sh setup CAPTURE OUTPUT WIDTH HEIGHT
#       with nothing streaming: HDMI input and output at WIDTHxHEIGHT
#       (the 59.94 Hz timings of that size), GREY progressive output, the
#       "Loop Video" control on and the on-screen text off. Prints the
#       rate in frames per second.
#   vivid-loop.sh feed OUTPUT WIDTH HEIGHT REPEAT LEADIN SCENE.zst DIR
#       feeds OUTPUT: the LEADIN frames (each REPEAT times) over and over
#       until DIR/play exists, then SCENE.zst (raw GREY frames, zstd) once,
#       then DIR/played is written and the lead-in loops again, until killed.
#       vivid shows a test pattern whenever no output frame is queued, so
#       the output never runs dry.
set -eu

hdmi_index() { # DEVICE --list-inputs|--list-outputs: the HDMI entry's index
	v4l2-ctl -d "$1" "$2" | awk '/^[[:space:]]*(Input|Output)[[:space:]]*:/ { i = $3 } /Name.*HDMI/ { print i; exit }'
}

case "$1" in
setup)
	cap=$2 out=$3 w=$4 h=$5
	in_i=$(hdmi_index "$cap" --list-inputs)
	out_i=$(hdmi_index "$out" --list-outputs)
	[ -n "$in_i" ] && [ -n "$out_i" ] || { echo "no HDMI input or output on $cap/$out" >&2; exit 1; }
	v4l2-ctl -d "$cap" --set-input="$in_i" >/dev/null
	v4l2-ctl -d "$out" --set-output="$out_i" >/dev/null
	# The first progressive timings of that size vivid lists (640x480: 59.94 Hz).
	for dev in "$cap" "$out"; do
		idx=$(v4l2-ctl -d "$dev" --list-dv-timings | awk -v size="${w}x${h}" '
			/Index:/ { i = $2 }
			/Active width:/ { aw = $3 } /Active height:/ { ah = $3 }
			/Frame format:/ && $3 == "progressive" && aw "x" ah == size { print i; exit }')
		[ -n "$idx" ] || { echo "no ${w}x${h} timings on $dev" >&2; exit 1; }
		v4l2-ctl -d "$dev" --set-dv-bt-timings index="$idx" >/dev/null
	done
	v4l2-ctl -d "$out" --set-fmt-video-out=width="$w",height="$h",pixelformat=GREY,field=none
	v4l2-ctl -d "$cap" --set-fmt-video=width="$w",height="$h",pixelformat=GREY,field=none
	v4l2-ctl -d "$cap" --set-ctrl=loop_video=1,osd_text_mode=2
	v4l2-ctl -d "$cap" --get-parm | awk '/Frames per second:/ { print $4; exit }'
	;;
feed)
	out=$2 w=$3 h=$4 repeat=$5 leadin=$6 scene=$7 dir=$8
	rm -f "$dir/play" "$dir/played"
	perl -e '
		use strict; use warnings;
		my ($n, $repeat, $leadin, $scene, $dir) = @ARGV;
		binmode STDOUT;
		sub put { my $buf = shift; for (1 .. $repeat) { my $off = 0;
			while ($off < $n) { my $w = syswrite(STDOUT, $buf, $n - $off, $off);
				defined $w or exit 0; $off += $w } } }
		sub frames { my ($fh, $max) = @_; my @f; my $buf;
			while ((!defined $max || @f < $max) && read($fh, $buf, $n) == $n) { push @f, $buf } @f }
		open(my $lead, "-|", "zstd", "-dcq", $scene) or die "zstd: $!";
		binmode $lead;
		my @lead = frames($lead, $leadin);
		close $lead;
		until (-e "$dir/play") { put($_) for @lead }
		open(my $all, "-|", "zstd", "-dcq", $scene) or die "zstd: $!";
		binmode $all;
		my $buf;
		put($buf) while read($all, $buf, $n) == $n;
		close $all;
		open(my $done, ">", "$dir/played") or die; close $done;
		while (1) { put($_) for @lead }
	' $((w * h)) "$repeat" "$leadin" "$scene" "$dir" |
		v4l2-ctl -d "$out" --stream-out-mmap=4 --stream-from=/dev/stdin >/dev/null 2>&1
	;;
*)
	echo "usage: $0 setup|feed ..." >&2
	exit 2
	;;
esac
