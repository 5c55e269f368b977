// delayline: the emulated long link of scripts/bench-wan.
//
// Two TUN devices, one in each of two network namespaces, joined by this process. Every IP
// packet that one side's kernel sends into its TUN device is put through a model of one
// direction of a link and written into the other side's device:
//
//   arrival -> drop-tail queue (QUEUE_MS of the link rate) -> serialised at RATE_MBIT
//           -> propagation of RTT_MS / 2 -> delivered
//
// The kernels' own TCP runs at both ends, so windows, buffers and slow start behave as on a real
// long path (a TCP-terminating proxy would hide them). No loss besides queue overflow, no
// jitter, no reordering. Serialisation charges what an Ethernet wire would carry: each TCP
// segment's IP and TCP headers plus 38 bytes of framing (preamble, MAC header, FCS, gap), so
// 1000 Mbit/s gives TCP about 117 MB/s of payload.
//
// The devices use the kernel's segmentation offload (IFF_VNET_HDR, TUNSETOFFLOAD TSO4/TSO6):
// the kernel hands over TCP super-packets of up to 64 KiB and takes them back whole, so this
// process handles a few thousand packets per second at 1 Gbit/s instead of ~80000. The model
// charges a super-packet as the segments it stands for; a queue overflow drops the whole
// super-packet (SACK recovers it).
//
// One thread per direction; nothing but the Rust standard library and a few libc calls.
//
//   usage: delayline NETNS_A TUN_A NETNS_B TUN_B RTT_MS RATE_MBIT QUEUE_MS
//     NETNS_x  a network namespace file (/run/netns/NAME)
//     TUN_x    a TUN device already created there with `ip tuntap add … mode tun vnet_hdr`
//     RATE_MBIT 0 = no rate limit (and no queue)
//   SIGTERM / SIGINT: print the counters of both directions and exit.
//
// Build: rustc -O -o delayline delayline.rs   (scripts/bench-wan does this)

use std::collections::VecDeque;
use std::ffi::CString;
use std::io::Error;
use std::os::raw::{c_char, c_int, c_long, c_short, c_ulong, c_void};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const TUNSETIFF: c_ulong = 0x4004_54ca;
const TUNSETOFFLOAD: c_ulong = 0x4004_54d0;
const TUNSETVNETHDRSZ: c_ulong = 0x4004_54d8;
const IFF_TUN: c_short = 0x0001;
const IFF_NO_PI: c_short = 0x1000;
const IFF_VNET_HDR: c_short = 0x4000;
const TUN_F_CSUM: c_ulong = 0x01;
const TUN_F_TSO4: c_ulong = 0x02;
const TUN_F_TSO6: c_ulong = 0x04;
const CLONE_NEWNET: c_int = 0x4000_0000;
const O_RDWR: c_int = 0o2;
const O_NONBLOCK: c_int = 0o4000;
const O_CLOEXEC: c_int = 0o2000000;
const POLLIN: c_short = 0x1;
const EAGAIN: i32 = 11;
const SIGINT: c_int = 2;
const SIGTERM: c_int = 15;
const PR_SET_TIMERSLACK: c_int = 29;
/// struct virtio_net_hdr: flags, gso_type, hdr_len, gso_size, csum_start, csum_offset.
const VNET_HDR: usize = 10;
/// Preamble 8 + MAC header 14 + FCS 4 + inter-frame gap 12.
const FRAMING: u64 = 38;
const MAX_PACKET: usize = 65536 + VNET_HDR + 256;

#[repr(C)]
struct PollFd {
    fd: c_int,
    events: c_short,
    revents: c_short,
}

#[repr(C)]
struct Timespec {
    tv_sec: c_long,
    tv_nsec: c_long,
}

#[repr(C)]
struct IfReq {
    name: [c_char; 16],
    flags: c_short,
    _pad: [u8; 22],
}

extern "C" {
    fn open(path: *const c_char, flags: c_int, ...) -> c_int;
    fn close(fd: c_int) -> c_int;
    fn ioctl(fd: c_int, req: c_ulong, ...) -> c_int;
    fn setns(fd: c_int, nstype: c_int) -> c_int;
    fn read(fd: c_int, buf: *mut c_void, n: usize) -> isize;
    fn write(fd: c_int, buf: *const c_void, n: usize) -> isize;
    fn ppoll(fds: *mut PollFd, n: c_ulong, t: *const Timespec, mask: *const c_void) -> c_int;
    fn signal(sig: c_int, handler: extern "C" fn(c_int)) -> usize;
    fn prctl(option: c_int, arg: c_ulong, ...) -> c_int;
}

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: c_int) {
    STOP.store(true, Ordering::SeqCst);
}

fn fail(what: &str) -> ! {
    eprintln!("delayline: {what}: {}", Error::last_os_error());
    std::process::exit(1)
}

/// Enter the network namespace `ns` (this thread only) and attach to its TUN device `name`.
fn attach(ns: &str, name: &str) -> c_int {
    let path = CString::new(ns).expect("no NUL in a path");
    let nsfd = unsafe { open(path.as_ptr(), O_CLOEXEC) };
    if nsfd < 0 || unsafe { setns(nsfd, CLONE_NEWNET) } != 0 {
        fail(&format!("entering {ns}"));
    }
    unsafe { close(nsfd) };
    let dev = CString::new("/dev/net/tun").expect("literal");
    let fd = unsafe { open(dev.as_ptr(), O_RDWR | O_NONBLOCK | O_CLOEXEC) };
    if fd < 0 {
        fail("opening /dev/net/tun");
    }
    let mut req = IfReq {
        name: [0; 16],
        flags: IFF_TUN | IFF_NO_PI | IFF_VNET_HDR,
        _pad: [0; 22],
    };
    for (d, s) in req.name.iter_mut().zip(name.bytes().take(15)) {
        *d = s as c_char;
    }
    if unsafe { ioctl(fd, TUNSETIFF, &mut req as *mut IfReq) } != 0 {
        fail(&format!("attaching to {name} in {ns}"));
    }
    let hdr: c_int = VNET_HDR as c_int;
    if unsafe { ioctl(fd, TUNSETVNETHDRSZ, &hdr as *const c_int) } != 0 {
        fail("TUNSETVNETHDRSZ");
    }
    if unsafe { ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6) } != 0 {
        fail("TUNSETOFFLOAD");
    }
    fd
}

/// Bytes a packet (virtio header + IP packet, possibly a TCP super-packet) takes on the wire.
fn wire_bytes(pkt: &[u8]) -> u64 {
    let ip = &pkt[VNET_HDR..];
    let gso_type = pkt[1] & 0x7f;
    let gso_size = u16::from_le_bytes([pkt[4], pkt[5]]) as u64;
    let plain = ip.len() as u64 + FRAMING;
    if gso_type == 0 || gso_size == 0 || ip.is_empty() {
        return plain;
    }
    let (ip_hdr, proto) = match ip[0] >> 4 {
        4 => (((ip[0] & 0x0f) as usize) * 4, ip.get(9).copied()),
        6 => (40, ip.get(6).copied()),
        _ => return plain,
    };
    let tcp_hdr = match proto {
        Some(6) if ip.len() > ip_hdr + 12 => ((ip[ip_hdr + 12] >> 4) as usize) * 4,
        _ => return plain,
    };
    let headers = (ip_hdr + tcp_hdr) as u64;
    let payload = (ip.len() as u64).saturating_sub(headers);
    let segments = payload.div_ceil(gso_size).max(1);
    payload + segments * (headers + FRAMING)
}

#[derive(Default)]
struct Counters {
    packets: u64,
    bytes: u64,
    dropped: u64,
    write_errors: u64,
}

/// One direction of the link: read from `from`, deliver into `to`.
fn direction(from: c_int, to: c_int, one_way: Duration, rate_mbit: f64, queue: Duration) -> Counters {
    let ns_per_byte = if rate_mbit > 0.0 { 8000.0 / rate_mbit } else { 0.0 };
    let queue_bytes = if rate_mbit > 0.0 {
        (queue.as_secs_f64() * rate_mbit * 1e6 / 8.0).max(64.0 * 1024.0) as u64
    } else {
        u64::MAX
    };
    let mut line: VecDeque<(Instant, Vec<u8>)> = VecDeque::new();
    let mut link_free = Instant::now();
    let mut c = Counters::default();
    let mut buf = vec![0u8; MAX_PACKET];
    while !STOP.load(Ordering::Relaxed) {
        let now = Instant::now();
        let wait = line
            .front()
            .map_or(Duration::from_millis(100), |(due, _)| due.saturating_duration_since(now))
            .min(Duration::from_millis(100));
        let ts = Timespec {
            tv_sec: wait.as_secs() as c_long,
            tv_nsec: wait.subsec_nanos() as c_long,
        };
        let mut pfd = PollFd { fd: from, events: POLLIN, revents: 0 };
        unsafe { ppoll(&mut pfd, 1, &ts, std::ptr::null()) };
        // Everything that has arrived, up to a bound so delivery is not starved.
        for _ in 0..512 {
            let n = unsafe { read(from, buf.as_mut_ptr() as *mut c_void, buf.len()) };
            if n <= VNET_HDR as isize {
                let e = Error::last_os_error().raw_os_error();
                if n < 0 && e != Some(EAGAIN) {
                    fail("reading a TUN device");
                }
                break;
            }
            let pkt = &buf[..n as usize];
            let arrived = Instant::now();
            let wire = wire_bytes(pkt);
            let backlog = if link_free > arrived {
                ((link_free - arrived).as_nanos() as f64 / ns_per_byte.max(1e-9)) as u64
            } else {
                0
            };
            if backlog.saturating_add(wire) > queue_bytes {
                c.dropped += 1;
                continue;
            }
            let start = link_free.max(arrived);
            link_free = start + Duration::from_nanos((wire as f64 * ns_per_byte) as u64);
            line.push_back((link_free + one_way, pkt.to_vec()));
        }
        let now = Instant::now();
        while line.front().is_some_and(|(due, _)| *due <= now) {
            let (_, pkt) = line.pop_front().expect("checked");
            let n = unsafe { write(to, pkt.as_ptr() as *const c_void, pkt.len()) };
            if n < 0 {
                c.write_errors += 1;
            } else {
                c.packets += 1;
                c.bytes += (pkt.len() - VNET_HDR) as u64;
            }
        }
    }
    c
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 8 {
        eprintln!("usage: delayline NETNS_A TUN_A NETNS_B TUN_B RTT_MS RATE_MBIT QUEUE_MS");
        std::process::exit(2);
    }
    let num = |i: usize| -> f64 {
        args[i].parse().unwrap_or_else(|_| {
            eprintln!("delayline: {:?} is not a number", args[i]);
            std::process::exit(2)
        })
    };
    let (rtt_ms, rate, queue_ms) = (num(5), num(6), num(7));
    let one_way = Duration::from_secs_f64(rtt_ms / 2000.0);
    let queue = Duration::from_secs_f64(queue_ms / 1000.0);
    unsafe {
        signal(SIGTERM, on_signal);
        signal(SIGINT, on_signal);
        prctl(PR_SET_TIMERSLACK, 1);
    }
    // Each device is attached from its own namespace; the descriptors stay bound to their
    // devices whatever namespace the threads run in.
    let a = std::thread::scope(|s| s.spawn(|| attach(&args[1], &args[2])).join().expect("attach"));
    let b = std::thread::scope(|s| s.spawn(|| attach(&args[3], &args[4])).join().expect("attach"));
    eprintln!(
        "delayline: {} <-> {}: rtt {rtt_ms} ms, {rate} Mbit/s, queue {queue_ms} ms",
        args[2], args[4]
    );
    let started = Arc::new(Instant::now());
    let ab = std::thread::spawn(move || direction(a, b, one_way, rate, queue));
    let ba = std::thread::spawn(move || direction(b, a, one_way, rate, queue));
    let (ab, ba) = (ab.join().expect("a->b"), ba.join().expect("b->a"));
    for (name, c) in [("a->b", ab), ("b->a", ba)] {
        eprintln!(
            "delayline: {name}: {} packets, {} bytes, {} dropped, {} write errors in {:.1} s",
            c.packets,
            c.bytes,
            c.dropped,
            c.write_errors,
            started.elapsed().as_secs_f64()
        );
    }
}
