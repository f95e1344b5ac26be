// gemm: C = alpha * A * B + beta * C, fast. Read gemm.h first for the interface, and
// gemm_reference() just below for what is computed.
//
// WHY THE NAIVE LOOP IS SLOW
// Each multiply-add of the triple loop needs two numbers. A Zen 5 core does 32 float
// multiply-adds per cycle (two 16-wide FMA instructions), so it would need 64 fresh numbers
// per cycle, while main memory delivers about one and even the L1 cache only a few dozen.
// A fast gemm therefore reuses every number it loads many times, at every level: registers,
// L1, L2, L3. This file follows the GotoBLAS / BLIS design.
//
// THE LOOP NEST (MR x NR is the micro-kernel's register tile: 8 x 32 floats with AVX-512)
//
//   for jc in 0..N step NC:                 a block of NC columns of B and C
//     for pc in 0..K step KC:               a block of KC of the summed dimension
//       pack B[pc:pc+KC, jc:jc+NC] -> Bp    KC x NC, in NR-wide panels    (lives in L3)
//       for ic in 0..M step MC:
//         pack A[ic:ic+MC, pc:pc+KC] -> Ap  MC x KC, in MR-tall panels    (lives in L2)
//         for jr in 0..NC step NR:          one panel of Bp, KC x NR      (L1 / L2)
//           for ir in 0..MC step MR:        one panel of Ap, MR x KC      (streamed from L2)
//             micro-kernel: C[ir:ir+MR, jr:jr+NR] (+)= Ap panel * Bp panel  (in registers)
//
// The micro-kernel (gemm_avx512.cpp, gemm_avx2.cpp, portable_kernel below) keeps its MR x NR
// tile of C in registers for the whole sum over KC, so C is read and written once per KC.
// Packing copies a block into the exact order the micro-kernel reads it: contiguous, aligned,
// padded with zeros to whole panels, whatever the strides of the original (which is why a
// transposed view costs nothing). The copy is paid once and reused many times: each number
// of Ap by NC/NR micro-kernel calls, each number of Bp by MC/MR calls.
//
// WHY THESE BLOCK SIZES (Zen 4/5: L1d 32/48 KiB and L2 1 MiB per core, L3 32 MiB shared)
//   KC = 512: the micro-kernel loads and stores its C tile once per KC, so a long KC spreads
//       that cost over more FMAs, and fewer K blocks mean fewer passes over all of C. The
//       textbook choice keeps a Bp panel (KC x NR) in L1, i.e. KC = 256 (32 KiB); at 512
//       (64 KiB) the panel streams from L2 instead, which has the bandwidth for it (the kernel
//       needs 160 bytes per 16 FMAs), and it measured 3-5% faster for n >= 1024.
//   MC: Ap (MC x KC) is re-read for every jr step, so it should stay in L2: half of it, the
//       other half being for the B panels and C passing through. MC = 256 floats.
//   NC: Bp (KC x NC) is re-read for every ic step and shared by the threads, so it lives in
//       L3: 4 MiB, NC = 2048 floats. (Two of them, see THREADS.)
// The sizes are computed from these budgets in choose_blocking().
//
// SMALL PRODUCTS
// Packing costs one copy of A and B, about M*K + K*N loads and stores, against 2*M*N*K flops
// for the product: nothing for big matrices, but a third of the time at 64 x 64 x 64. So an
// operand small enough to stay in cache anyway (A or B of at most 256 KiB) is read in place:
// the micro-kernel takes A with any strides (it broadcasts one number at a time, so layout
// does not matter), and B where its rows are contiguous (cs_b == 1) and the panel is whole.
// The arithmetic is the same either way, only the addresses differ.
//
// THREADS
// Threads divide C: each gets a rectangle of MR-row panels x NR-column panels. They pack B
// together (each packs some of its panels), wait at one barrier, then each packs its own rows
// of A into its own buffer and runs its own micro-kernels. K is never split, so every element
// of C is summed in the same order by the same code whatever the thread count: the result is
// bit-identical for 1 or 8 threads. Two B buffers alternate between pc steps, so a thread that
// is ahead can pack the next block while a slower one still reads the current one; that
// leaves one barrier per (jc, pc) step. Products under about 2 MFLOP stay on one thread.
#include "tensor/kernels/gemm.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <exception>
#include <limits>
#include <new>
#include <stdexcept>
#include <string>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "tensor/parallel.h"

namespace lumen::kernels {

// ============================================================================================
// The reference: the definition of gemm, written as plainly as possible.
// ============================================================================================

template <class T>
void gemm_reference(int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t rs_a,
                    int64_t cs_a, const T* B, int64_t rs_b, int64_t cs_b, T beta, T* C,
                    int64_t rs_c, int64_t cs_c) {
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      double sum = 0;  // double even for float, so this is the more accurate of the two
      for (int64_t p = 0; p < K; ++p)
        sum += double(A[i * rs_a + p * cs_a]) * double(B[p * rs_b + j * cs_b]);
      T& c = C[i * rs_c + j * cs_c];
      // beta == 0 must not read C: it may be uninitialised (NaN * 0 would be NaN).
      c = beta == T(0) ? T(double(alpha) * sum) : T(double(alpha) * sum + double(beta) * c);
    }
}

template void gemm_reference<float>(int64_t, int64_t, int64_t, float, const float*, int64_t,
                                    int64_t, const float*, int64_t, int64_t, float, float*,
                                    int64_t, int64_t);
template void gemm_reference<double>(int64_t, int64_t, int64_t, double, const double*, int64_t,
                                     int64_t, const double*, int64_t, int64_t, double, double*,
                                     int64_t, int64_t);

namespace {

using detail::MicroKernelInfo;

// ============================================================================================
// The portable micro-kernel: plain C++ for CPUs without AVX2 (and a readable model of the SIMD
// ones). The compiler vectorises the j loop with whatever the baseline target has (SSE2).
// ============================================================================================

template <class T, int MR, int NR>
void portable_kernel(int64_t k, const T* a, int64_t rs_a, int64_t cs_a, const T* b,
                     int64_t rs_b, const detail::CTile<T>& out) {
  // Rows past the edge of C re-read the last valid row of A rather than read outside A.
  const T* row[MR];
  for (int i = 0; i < MR; ++i) row[i] = a + std::min<int64_t>(i, out.m - 1) * rs_a;
  T acc[MR][NR] = {};
  for (int64_t p = 0; p < k; ++p, b += rs_b)
    for (int i = 0; i < MR; ++i) {
      const T a_ip = row[i][p * cs_a];
      for (int j = 0; j < NR; ++j) acc[i][j] += a_ip * b[j];
    }
  for (int64_t i = 0; i < out.m; ++i)
    for (int64_t j = 0; j < out.n; ++j) {
      T& c = out.c[i * out.rs_c + j * out.cs_c];
      c = out.beta == T(0) ? out.alpha * acc[i][j] : out.alpha * acc[i][j] + out.beta * c;
    }
}

const MicroKernelInfo<float> portable_f32 = {4, 8, &portable_kernel<float, 4, 8>};
const MicroKernelInfo<double> portable_f64 = {4, 4, &portable_kernel<double, 4, 4>};

// ============================================================================================
// Choosing the micro-kernel: the best one the CPU supports, unless a test forces one.
// ============================================================================================

enum class Isa : int { kPortable = 0, kAvx2 = 1, kAvx512 = 2 };

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::kAvx512: return "avx512";
    case Isa::kAvx2: return "avx2";
    default: return "portable";
  }
}

// The CPU check. The AVX-512 file is compiled with f/dq/bw/vl, so the compiler may use any of
// them there: all four are required, and AVX2 too, for the packing routines the AVX-512
// kernels share with the AVX2 ones. __builtin_cpu_supports also checks that the operating
// system saves the wide registers on a context switch. A kernel pointer is null when its file
// was built without its flags (see the #else branches there).
bool cpu_supports(Isa isa) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  switch (isa) {
    case Isa::kAvx512:
      return cpu_supports(Isa::kAvx2) && detail::avx512_f32.kernel != nullptr &&
             __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
             __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
    case Isa::kAvx2:
      return detail::avx2_f32.kernel != nullptr && __builtin_cpu_supports("avx2") &&
             __builtin_cpu_supports("fma");
    default: return true;
  }
#else
  return isa == Isa::kPortable;
#endif
}

Isa best_isa() {
  if (cpu_supports(Isa::kAvx512)) return Isa::kAvx512;
  if (cpu_supports(Isa::kAvx2)) return Isa::kAvx2;
  return Isa::kPortable;
}

// -1 until first use; then the Isa in force (best_isa() or the one a test forced).
std::atomic<int> g_isa{-1};

Isa active_isa() {
  int v = g_isa.load(std::memory_order_relaxed);
  if (v < 0) {
    v = int(best_isa());
    g_isa.store(v, std::memory_order_relaxed);
  }
  return Isa(v);
}

const MicroKernelInfo<float>& micro_kernel_for(Isa isa, float) {
  switch (isa) {
    case Isa::kAvx512: return detail::avx512_f32;
    case Isa::kAvx2: return detail::avx2_f32;
    default: return portable_f32;
  }
}
const MicroKernelInfo<double>& micro_kernel_for(Isa isa, double) {
  switch (isa) {
    case Isa::kAvx512: return detail::avx512_f64;
    case Isa::kAvx2: return detail::avx2_f64;
    default: return portable_f64;
  }
}

// ============================================================================================
// Block sizes (see "WHY THESE BLOCK SIZES" at the top).
// ============================================================================================

// The depth of the K blocks, and the cache budgets of the packed blocks (Zen 4/5: L2 1 MiB per
// core, L3 32 MiB shared by the cores).
constexpr int64_t kKC = 512;
constexpr int64_t kABlockBytes = 512 * 1024;       // the packed A block, MC x KC: half of L2
constexpr int64_t kBBlockBytes = 4 * 1024 * 1024;  // the packed B block, KC x NC, in L3

struct Blocking {
  int64_t mr, nr;  // register tile
  int64_t mc;      // rows of A per packed block (a multiple of mr)
  int64_t kc;      // depth of the K blocks
  int64_t nc;      // columns of B per packed block (a multiple of nr)
};

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }

// The block sizes depend on the kernel and on K, never on the thread count. KC decides how the
// sum over K is cut into pieces, and so how it is rounded; keeping it independent of the
// threads is what makes results identical for any thread count.
Blocking choose_blocking(int64_t mr, int64_t nr, int64_t elem_size, int64_t K) {
  Blocking bk{mr, nr, 0, 0, 0};
  // Cut K into equal blocks of at most kKC rather than full blocks plus a thin remainder
  // (K = 600 becomes 300 + 300, not 512 + 88): a thin block would pay a whole pass over C for
  // little work.
  const int64_t k_blocks = std::max<int64_t>(1, ceil_div(K, kKC));
  bk.kc = std::max<int64_t>(1, ceil_div(K, k_blocks));
  // MC and NC from the cache budgets (AVX-512 f32: MC = 256, NC = 2048).
  bk.mc = std::max(mr, kABlockBytes / (kKC * elem_size) / mr * mr);
  bk.nc = std::max(nr, kBBlockBytes / (kKC * elem_size) / nr * nr);
  return bk;
}

// ============================================================================================
// Packing
// ============================================================================================

// The portable packing routine (the contract is in gemm.h, detail::PackPanels): copies a
// `count` x kc slice into panels of width R, one after another, zero-padded to whole panels:
//   dst[(i / R) * R*kc + p*R + i % R] = src[i*s_i + p*s_p].
// The zero padding lets the micro-kernel always compute a full tile: the padded rows or
// columns only add zeros, and are never written back. The SIMD kernels use the faster
// detail::pack_panels_avx2.
template <class T>
void pack_panels_portable(T* dst, const T* src, int64_t s_i, int64_t s_p, int64_t count,
                          int64_t kc, int64_t R) {
  const int64_t padded = ceil_div(count, R) * R;
  for (int64_t i = 0; i < padded; ++i) {
    T* d = dst + (i / R) * R * kc + i % R;
    for (int64_t p = 0; p < kc; ++p) d[p * R] = i < count ? src[i * s_i + p * s_p] : T(0);
  }
}

template <class T>
detail::PackPanels<T> pack_for(Isa isa) {
  if (isa == Isa::kPortable) return &pack_panels_portable<T>;
  return static_cast<detail::PackPanels<T>>(&detail::pack_panels_avx2);
}

// ============================================================================================
// Packing buffers: allocated on first use, kept per thread, grown when a bigger product comes
// along, 64-byte aligned (a cache line and a zmm register). Keeping them means a small gemm
// costs no malloc.
// ============================================================================================

class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
  ~AlignedBuffer() { std::free(data_); }

  template <class T>
  T* get(int64_t count) {
    const size_t bytes = size_t(round_up(count * int64_t(sizeof(T)), 64));
    if (bytes > bytes_) {
      std::free(data_);
      data_ = std::aligned_alloc(64, bytes);
      bytes_ = data_ ? bytes : 0;
      if (!data_) throw std::bad_alloc();
    }
    return static_cast<T*>(data_);
  }

 private:
  void* data_ = nullptr;
  size_t bytes_ = 0;
};

// Owned by the thread that calls gemm; when it runs a team of threads, it hands them out:
// tls_pack_b holds the shared Bp (two of them, see THREADS at the top), tls_pack_a one Ap per
// thread. Allocating everything before the threads start means a failed allocation throws
// std::bad_alloc to the caller instead of ending the program inside a parallel region.
thread_local AlignedBuffer tls_pack_a;
thread_local AlignedBuffer tls_pack_b[2];

// ============================================================================================
// The blocked algorithm
// ============================================================================================

template <class T>
struct Problem {
  int64_t M, N, K;
  T alpha;
  const T* A;
  int64_t rs_a, cs_a;
  const T* B;
  int64_t rs_b, cs_b;
  T beta;
  T* C;
  int64_t rs_c, cs_c;
};

// C = beta * C, for K == 0 or alpha == 0, where there is no product to add.
template <class T>
void scale_c(const Problem<T>& g) {
  for (int64_t i = 0; i < g.M; ++i)
    for (int64_t j = 0; j < g.N; ++j) {
      T& c = g.C[i * g.rs_c + j * g.cs_c];
      c = g.beta == T(0) ? T(0) : g.beta * c;
    }
}

// Everything the threads of one product share, decided once before they start.
template <class T>
struct Plan {
  MicroKernelInfo<T> uk;
  detail::PackPanels<T> pack;
  Blocking bk;
  bool a_in_place, b_in_place;  // read A / B where they are instead of packing (small operands)
  int tm, tn;                   // threads tile C as tm x tn; thread t sits at (t % tm, t / tm)
  T* a_pack;                    // thread t packs A into a_pack + t * a_pack_size
  int64_t a_pack_size;
  T* b_pack[2];                 // the two B buffers, shared by the whole team
};

// The part [first, last) of `count` items that worker `id` of `workers` takes.
void share(int64_t count, int id, int workers, int64_t& first, int64_t& last) {
  first = count * id / workers;
  last = count * (id + 1) / workers;
}

// One thread's part of the loop nest (see THE LOOP NEST at the top). With one thread this is
// the whole algorithm.
template <class T>
void gemm_thread(const Problem<T>& g, const Plan<T>& plan, int tid, int nt) {
  const Blocking& bk = plan.bk;
  const int64_t MR = bk.mr, NR = bk.nr;
  T* const ap = plan.a_pack + tid * plan.a_pack_size;

  // This thread's rows of C: a run of whole MR-row panels.
  int64_t mp0, mp1;
  share(ceil_div(g.M, MR), tid % plan.tm, plan.tm, mp0, mp1);
  const int64_t m_begin = mp0 * MR, m_end = std::min(g.M, mp1 * MR);

  int step = 0;  // counts (jc, pc) steps, to alternate the two B buffers
  for (int64_t jc = 0; jc < g.N; jc += bk.nc) {
    const int64_t nc = std::min(bk.nc, g.N - jc);
    const int64_t n_panels = ceil_div(nc, NR);
    // This thread's columns of C in this block: a run of whole NR-column panels.
    int64_t np0, np1;
    share(n_panels, tid / plan.tm, plan.tn, np0, np1);
    // A B panel is read in place only when it is whole: a partial one would load past the
    // end of B's rows.
    auto b_panel_in_place = [&](int64_t q) { return plan.b_in_place && (q + 1) * NR <= nc; };

    for (int64_t pc = 0; pc < g.K; pc += bk.kc) {
      const int64_t kc = std::min(bk.kc, g.K - pc);
      T* const b_block = plan.b_pack[step++ & 1];

      // Every thread packs a share of the B panels (those not read in place); after the
      // barrier all of them are ready.
      int64_t q0, q1;
      share(n_panels, tid, nt, q0, q1);
      while (q0 < q1 && b_panel_in_place(q0)) ++q0;
      if (q0 < q1)
        plan.pack(b_block + q0 * NR * kc, g.B + pc * g.rs_b + (jc + q0 * NR) * g.cs_b, g.cs_b,
                  g.rs_b, std::min(nc, q1 * NR) - q0 * NR, kc, NR);
#ifdef _OPENMP
      if (nt > 1) {
#pragma omp barrier
      }
#endif
      if (np0 == np1) continue;  // no columns for this thread (tiny N); it only helped pack

      // The first K block applies the caller's beta; the later ones add to what is in C.
      const T beta = pc == 0 ? g.beta : T(1);
      for (int64_t ic = m_begin; ic < m_end; ic += bk.mc) {
        const int64_t mc = std::min(bk.mc, m_end - ic);
        // The A panels the micro-kernels read: A itself, or its packed copy.
        const T* a_block = g.A + ic * g.rs_a + pc * g.cs_a;
        int64_t rs_a = g.rs_a, cs_a = g.cs_a, a_panel_step = MR * g.rs_a;
        if (!plan.a_in_place) {
          plan.pack(ap, a_block, g.rs_a, g.cs_a, mc, kc, MR);
          a_block = ap;
          rs_a = 1;
          cs_a = MR;
          a_panel_step = MR * kc;
        }

        for (int64_t jr = np0; jr < np1; ++jr) {
          const T* b_panel = b_block + jr * NR * kc;
          int64_t rs_b = NR;
          if (b_panel_in_place(jr)) {
            b_panel = g.B + pc * g.rs_b + jc + jr * NR;  // in place implies cs_b == 1
            rs_b = g.rs_b;
          }
          T* const c_panel = g.C + (jc + jr * NR) * g.cs_c;
          const int64_t n = std::min(NR, nc - jr * NR);
          for (int64_t ir = 0; ir < mc; ir += MR) {
            const detail::CTile<T> tile{c_panel + (ic + ir) * g.rs_c, g.rs_c, g.cs_c,
                                        std::min(MR, mc - ir), n, g.alpha, beta};
            plan.uk.kernel(kc, a_block + (ir / MR) * a_panel_step, rs_a, cs_a, b_panel, rs_b,
                           tile);
          }
        }
      }
    }
  }
}

// An operand at most this big is read in place instead of packed (SMALL PRODUCTS at the top).
constexpr int64_t kInPlaceBytes = 256 * 1024;

// Below this many flops (2*M*N*K) a product runs on one thread: waking a second thread and
// meeting at a barrier costs microseconds, as much as a 64 x 64 x 64 product takes.
constexpr double kMinFlopsForThreads = 2.0 * 96 * 96 * 96;

// "As many threads as get_num_threads() allows".
constexpr int kAnyThreads = std::numeric_limits<int>::max();

// Of all the ways to write nt = tm * tn, the one whose busiest thread has the fewest tiles of
// C. On a tie split M: then no two threads pack the same rows of A. But when A is read in place
// and only B is packed (a Linear layer on a batch: 64 x 256 x 784), split N (prefer_n): each
// thread then computes with exactly the B panels it packed itself, rather than reading half of
// them out of the other core's cache. That measured 15-20% faster on 2 threads for such shapes.
[[maybe_unused]] void choose_grid(int nt, int64_t m_panels, int64_t n_panels, bool prefer_n,
                                  int& tm, int& tn) {
  int64_t best_cost = -1;
  for (int k = 0; k < nt; ++k) {
    const int t = prefer_n ? k + 1 : nt - k;  // the first of equally good grids wins
    if (nt % t != 0) continue;
    const int64_t cost = ceil_div(m_panels, t) * ceil_div(n_panels, nt / t);
    if (best_cost < 0 || cost < best_cost) {
      best_cost = cost;
      tm = t;
      tn = nt / t;
    }
  }
}

// A row times a matrix (M == 1) or a matrix times a column (N == 1) fills no register tile: the
// micro-kernel would compute 8 rows or 32 columns to keep one, after packing the whole matrix.
// Here each output is one sum over k, taken in order p = 0, 1, ..., K-1 like the micro-kernel's,
// on one thread, so the result does not depend on the thread count either. These products are
// small in practice (a Bahdanau score v . tanh(...) is [B*S, A] x [A, 1], its weight gradient
// [1, B*S] x [B*S, A]; one decoder query attends with [1, S] x [S, H]).
thread_local AlignedBuffer tls_acc;

template <class T>
void matrix_vector(const Problem<T>& g) {
  const bool column = g.N == 1;
  // Output o, step p reads x[o * so + p * sp] and v[p * sv].
  const int64_t n = column ? g.M : g.N;
  const T* x = column ? g.A : g.B;
  const int64_t so = column ? g.rs_a : g.cs_b, sp = column ? g.cs_a : g.rs_b;
  const T* v = column ? g.B : g.A;
  const int64_t sv = column ? g.rs_b : g.cs_a;
  const int64_t sc = column ? g.rs_c : g.cs_c;
  T* acc = tls_acc.get<T>(n);
  if (so == 1) {
    // The outputs sit side by side in x: one contiguous pass per step p (it vectorises).
    std::fill(acc, acc + n, T(0));
    for (int64_t p = 0; p < g.K; ++p) {
      const T vp = v[p * sv];
      const T* xp = x + p * sp;
      for (int64_t o = 0; o < n; ++o) acc[o] += xp[o] * vp;
    }
  } else {
    // One dot product per output, 8 outputs at a time so that their adds do not wait for
    // each other.
    constexpr int64_t kInFlight = 8;
    int64_t o0 = 0;
    for (; o0 + kInFlight <= n; o0 += kInFlight) {
      T sum[kInFlight] = {};
      const T* xo = x + o0 * so;
      for (int64_t p = 0; p < g.K; ++p) {
        const T vp = v[p * sv];
        for (int64_t l = 0; l < kInFlight; ++l) sum[l] += xo[l * so + p * sp] * vp;
      }
      std::copy(sum, sum + kInFlight, acc + o0);
    }
    for (; o0 < n; ++o0) {
      T sum = 0;
      for (int64_t p = 0; p < g.K; ++p) sum += x[o0 * so + p * sp] * v[p * sv];
      acc[o0] = sum;
    }
  }
  for (int64_t o = 0; o < n; ++o) {
    T& c = g.C[o * sc];
    c = g.beta == T(0) ? g.alpha * acc[o] : g.alpha * acc[o] + g.beta * c;  // beta = 0: C is not read
  }
}

void check_sizes(const char* fn, int64_t M, int64_t N, int64_t K) {
  if (M < 0 || N < 0 || K < 0)
    throw std::invalid_argument(std::string(fn) + ": sizes must be >= 0, got M=" +
                                std::to_string(M) + " N=" + std::to_string(N) +
                                " K=" + std::to_string(K));
}

// One product on at most max_threads threads.
template <class T>
void gemm_impl(const Problem<T>& g, [[maybe_unused]] int max_threads) {
  if (g.M == 0 || g.N == 0) return;
  if (g.K == 0 || g.alpha == T(0)) {
    scale_c(g);
    return;
  }
  if (g.M == 1 || g.N == 1) {
    matrix_vector(g);
    return;
  }
  Plan<T> plan;
  const Isa isa = active_isa();
  plan.uk = micro_kernel_for(isa, T());
  plan.pack = pack_for<T>(isa);
  const Blocking bk = plan.bk = choose_blocking(plan.uk.mr, plan.uk.nr, sizeof(T), g.K);
  plan.a_in_place = g.M * g.K * int64_t(sizeof(T)) <= kInPlaceBytes;
  plan.b_in_place = g.cs_b == 1 && g.K * g.N * int64_t(sizeof(T)) <= kInPlaceBytes;

  // Threads: only for products big enough to pay for them, never more than there are tiles,
  // and none when we are already inside a parallel region (no nesting).
  [[maybe_unused]] const int64_t m_panels = ceil_div(g.M, bk.mr);
  [[maybe_unused]] const int64_t n_panels = ceil_div(std::min(g.N, bk.nc), bk.nr);
  int nt = 1;
#ifdef _OPENMP
  if (!omp_in_parallel() && 2.0 * double(g.M) * double(g.N) * double(g.K) >= kMinFlopsForThreads)
    nt = int(std::min<int64_t>({max_threads, get_num_threads(), m_panels * n_panels}));
#endif

  // All buffers, for every thread, are allocated here, before any thread starts.
  plan.a_pack_size = round_up(round_up(std::min(bk.mc, g.M), bk.mr) * bk.kc, 64 / sizeof(T));
  plan.a_pack = plan.a_in_place ? nullptr : tls_pack_a.get<T>(nt * plan.a_pack_size);
  const int64_t b_size = round_up(std::min(g.N, bk.nc), bk.nr) * bk.kc;
  plan.b_pack[0] = tls_pack_b[0].get<T>(b_size);
  plan.b_pack[1] = nt > 1 ? tls_pack_b[1].get<T>(b_size) : plan.b_pack[0];  // one thread needs one

  if (nt == 1) {
    plan.tm = plan.tn = 1;
    gemm_thread(g, plan, 0, 1);
    return;
  }
#ifdef _OPENMP
#pragma omp parallel num_threads(nt)
  {
    // The runtime may start fewer threads than asked for; split the work among those we got.
    // (Every thread computes the same grid, so the copy is private but identical.)
    Plan<T> team_plan = plan;
    const int team = omp_get_num_threads();
    choose_grid(team, m_panels, n_panels, plan.a_in_place && !plan.b_in_place, team_plan.tm,
                team_plan.tn);
    gemm_thread(g, team_plan, omp_get_thread_num(), team);
  }
#endif
}

// gemm_batched: threads over the batch, or inside each product.
template <class T>
void gemm_batched_impl(int64_t batch, const Problem<T>& first, int64_t bs_a, int64_t bs_b,
                       int64_t bs_c) {
  check_sizes("gemm_batched", first.M, first.N, first.K);
  if (batch < 0)
    throw std::invalid_argument("gemm_batched: batch must be >= 0, got " + std::to_string(batch));
  if (batch > 1 && bs_c == 0 && first.M > 0 && first.N > 0)
    throw std::invalid_argument("gemm_batched: bs_c == 0 would make every product write the same C");
  auto product = [&](int64_t b, int max_threads) {
    Problem<T> g = first;
    g.A += b * bs_a;
    g.B += b * bs_b;
    g.C += b * bs_c;
    gemm_impl(g, max_threads);
  };

#ifdef _OPENMP
  // Threads over the batch, each product whole on one thread, need no barrier and share
  // nothing, so that is the better split whenever the products go round evenly (the batch
  // divides among the threads, or is long enough for the remainder not to matter), and the
  // only one when the products are too small to be threaded inside (attention runs
  // batch*heads products of 64 x 64). Otherwise (3 big products on 2 threads) thread inside.
  const int nt = omp_in_parallel() ? 1 : get_num_threads();
  const double flops = 2.0 * double(first.M) * double(first.N) * double(first.K);
  const bool even = batch % nt == 0 || batch >= 4 * nt;
  // Waking a thread team costs microseconds: a batch whose total work is tiny (an RNN step's
  // [B, T, H] x [B, H, 1] scores) is done sooner on this thread alone.
  const bool worth_threads = flops * double(batch) >= kMinFlopsForThreads;
  if (nt > 1 && batch > 1 && worth_threads && (even || flops < kMinFlopsForThreads)) {
    // An exception must not leave a parallel region: keep the first one, rethrow it after.
    std::exception_ptr error;
#pragma omp parallel for schedule(static) num_threads(int(std::min<int64_t>(nt, batch)))
    for (int64_t b = 0; b < batch; ++b) {
      try {
        product(b, 1);
      } catch (...) {
#pragma omp critical(lumen_gemm_batched_error)
        if (!error) error = std::current_exception();
      }
    }
    if (error) std::rethrow_exception(error);
    return;
  }
#endif
  for (int64_t b = 0; b < batch; ++b) product(b, kAnyThreads);
}

}  // namespace

// ============================================================================================
// The public entry points
// ============================================================================================

void gemm(int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t rs_a,
          int64_t cs_a, const float* B, int64_t rs_b, int64_t cs_b, float beta, float* C,
          int64_t rs_c, int64_t cs_c) {
  check_sizes("gemm", M, N, K);
  gemm_impl(Problem<float>{M, N, K, alpha, A, rs_a, cs_a, B, rs_b, cs_b, beta, C, rs_c, cs_c},
            kAnyThreads);
}

void gemm(int64_t M, int64_t N, int64_t K, double alpha, const double* A, int64_t rs_a,
          int64_t cs_a, const double* B, int64_t rs_b, int64_t cs_b, double beta, double* C,
          int64_t rs_c, int64_t cs_c) {
  check_sizes("gemm", M, N, K);
  gemm_impl(Problem<double>{M, N, K, alpha, A, rs_a, cs_a, B, rs_b, cs_b, beta, C, rs_c, cs_c},
            kAnyThreads);
}

void gemm_batched(int64_t batch, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                  int64_t bs_a, int64_t rs_a, int64_t cs_a, const float* B, int64_t bs_b,
                  int64_t rs_b, int64_t cs_b, float beta, float* C, int64_t bs_c, int64_t rs_c,
                  int64_t cs_c) {
  gemm_batched_impl(batch,
                    Problem<float>{M, N, K, alpha, A, rs_a, cs_a, B, rs_b, cs_b, beta, C, rs_c, cs_c},
                    bs_a, bs_b, bs_c);
}

void gemm_batched(int64_t batch, int64_t M, int64_t N, int64_t K, double alpha,
                  const double* A, int64_t bs_a, int64_t rs_a, int64_t cs_a, const double* B,
                  int64_t bs_b, int64_t rs_b, int64_t cs_b, double beta, double* C,
                  int64_t bs_c, int64_t rs_c, int64_t cs_c) {
  gemm_batched_impl(batch,
                    Problem<double>{M, N, K, alpha, A, rs_a, cs_a, B, rs_b, cs_b, beta, C, rs_c, cs_c},
                    bs_a, bs_b, bs_c);
}

const char* gemm_kernel_name() { return isa_name(active_isa()); }

void gemm_force_kernel(const char* name) {
  const std::string n = name ? name : "";
  Isa isa;
  if (n == "auto") isa = best_isa();
  else if (n == "avx512") isa = Isa::kAvx512;
  else if (n == "avx2") isa = Isa::kAvx2;
  else if (n == "portable") isa = Isa::kPortable;
  else
    throw std::invalid_argument("gemm_force_kernel: unknown kernel '" + n +
                                "' (expected avx512, avx2, portable or auto)");
  if (!cpu_supports(isa))
    throw std::runtime_error("gemm_force_kernel: this CPU (or this build) cannot run the '" + n +
                             "' kernel");
  g_isa.store(int(isa), std::memory_order_relaxed);
}

}  // namespace lumen::kernels
