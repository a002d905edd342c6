using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Convnet.Kernels;

/// <summary>
/// Direct convolution for inputs of few channels (a first layer on grayscale or RGB images), where
/// im2col's rows are too short (9·C values) for a GEMM to pay: each output pixel is a chain of
/// fused multiply-adds of an input value broadcast against a vector of the filters' weights, four
/// pixels at a time (a 2×2 pooling window, or four along a row) for independent chains, with the
/// <see cref="ConvEpilogue"/> applied before the pixels are stored or pooled. Training adds the
/// weight and bias gradients of such a layer (<see cref="WeightGradient"/>), so that no im2col
/// columns are written at all.
/// </summary>
public static unsafe class DirectConvolution
{
    /// <summary>Whether <see cref="Forward"/> vectorises this convolution (filters a multiple of 8, with Vector256).</summary>
    public static bool IsAccelerated(int filters) => Vector256.IsHardwareAccelerated && filters % 8 == 0;

    /// <summary>
    /// y = epilogue(conv(x, w) + bias), or with <see cref="ConvEpilogue.Pool2"/> its max over 2×2
    /// blocks (the pooled map [OH/2, OW/2, F]). Each output is Σ over (ky, kx, c) in that order,
    /// fused from 0, taps outside the image reading 0, then + bias.
    /// </summary>
    // x: [H, W, C], w: [KH, KW, C, F] → y: [OH, OW, F], or [OH/2, OW/2, F] pooled
    public static void Forward(ReadOnlySpan<float> x, ReadOnlySpan<float> w, in ConvGeometry g, int filters, in ConvEpilogue epilogue, Span<float> y)
    {
        Check(x, w, g, filters, epilogue, y);
        if (!IsAccelerated(filters))
        {
            ForwardScalar(x, w, g, filters, epilogue, y);
            return;
        }
        fixed (float* px = x, pw = w, py = y, pBias = epilogue.Bias, pScale = epilogue.Scale, pShift = epilogue.Shift)
        {
            Run(px, pw, g, filters, pBias, epilogue.Relu, epilogue.Scale.IsEmpty ? null : pScale, pShift, epilogue.Pool2, py, 0, OutputRows(g, epilogue.Pool2));
        }
    }

    /// <summary>Rows of y (pooled rows with <see cref="ConvEpilogue.Pool2"/>) a <see cref="Forward"/> writes.</summary>
    public static int OutputRows(in ConvGeometry g, bool pool2) => pool2 ? g.OutHeight / 2 : g.OutHeight;

    /// <summary>
    /// <see cref="Forward"/>'s rows [<paramref name="firstRow"/>, + <paramref name="rows"/>) of y
    /// (pooled rows with <see cref="ConvEpilogue.Pool2"/>), the same bits; the rest of y untouched.
    /// Bands of rows of one image can run on different threads. Needs <see cref="IsAccelerated"/>.
    /// </summary>
    // x: [H, W, C], w: [KH, KW, C, F] → y: [OH, OW, F] or [OH/2, OW/2, F], rows firstRow.. written
    public static void ForwardRows(ReadOnlySpan<float> x, ReadOnlySpan<float> w, in ConvGeometry g, int filters, in ConvEpilogue epilogue, Span<float> y, int firstRow, int rows)
    {
        Check(x, w, g, filters, epilogue, y);
        if (!IsAccelerated(filters))
        {
            throw new NotSupportedException($"Direct convolution by rows needs Vector256 and filters a multiple of 8, got {filters}.");
        }
        if (firstRow < 0 || rows < 0 || firstRow + rows > OutputRows(g, epilogue.Pool2))
        {
            throw new ArgumentOutOfRangeException(nameof(rows), $"Rows {firstRow}..{firstRow + rows} of {OutputRows(g, epilogue.Pool2)}.");
        }
        fixed (float* px = x, pw = w, py = y, pBias = epilogue.Bias, pScale = epilogue.Scale, pShift = epilogue.Shift)
        {
            Run(px, pw, g, filters, pBias, epilogue.Relu, epilogue.Scale.IsEmpty ? null : pScale, pShift, epilogue.Pool2, py, firstRow, firstRow + rows);
        }
    }

    // Output rows [rowStart, rowEnd) of y.
    private static unsafe void Run(float* x, float* w, in ConvGeometry g, int filters, float* bias, bool relu, float* scale, float* shift, bool pool, float* y, int rowStart, int rowEnd)
    {
        int outW = pool ? g.OutWidth / 2 : g.OutWidth;
        int c = g.Channels, k = g.KernelHeight, kw = g.KernelWidth, width = g.Width, stride = g.Stride;
        // Each tap's (ky, kx, c) offset from a window's first input, in the order the sums run.
        int taps = k * kw * c;
        long* offsets = stackalloc long[taps];
        for (int ky = 0, t = 0; ky < k; ky++)
        {
            for (int kx = 0; kx < kw; kx++)
            {
                for (int ch = 0; ch < c; ch++)
                {
                    offsets[t++] = ((long)ky * width + kx) * c + ch;
                }
            }
        }
        int* iy = stackalloc int[4];
        int* ix = stackalloc int[4];
        int per = pool ? 1 : 4;
        for (int oy = rowStart; oy < rowEnd; oy++)
        {
            // The row's groups whose windows all lie inside the image, [lo, hi), run in one loop;
            // the others (at a padded border, a row's short last group) one at a time below.
            var (lo, hi) = filters % 32 == 0 ? InsideGroups(g, pool, oy, outW) : (0, 0);
            if (hi > lo)
            {
                // A group's pixels from its first: pooled, the window's 2×2; else four along the row.
                long across = (long)stride * c, down = (long)stride * width * c;
                int firstRow = (pool ? 2 * oy : oy) * stride - g.PadTop, firstColumn = (pool ? 2 * lo : lo) * stride - g.PadLeft;
                Interior(x + ((long)firstRow * width + firstColumn) * c, pool ? 2 * across : 4 * across, across, pool ? down : 2 * across, pool ? down + across : 3 * across,
                    (hi - lo) / per, w, taps, offsets, filters, bias, relu, scale, shift, pool, y + ((long)oy * outW + lo) * filters, (long)per * filters);
            }
            for (int ox = 0; ox < outW; ox += per)
            {
                if (ox >= lo && ox < hi)
                {
                    continue;
                }
                // Four pixels per step: a pooling window's 2×2, else four along a row (the last step of a
                // row repeats its last pixel and stores only the real ones).
                int count = pool ? 4 : Math.Min(4, outW - ox);
                bool inside = true;
                for (int i = 0; i < 4; i++)
                {
                    int yy = pool ? 2 * oy + i / 2 : oy, xx = pool ? 2 * ox + i % 2 : ox + Math.Min(i, count - 1);
                    iy[i] = yy * stride - g.PadTop;
                    ix[i] = xx * stride - g.PadLeft;
                    inside &= iy[i] >= 0 && ix[i] >= 0 && iy[i] + k <= g.Height && ix[i] + kw <= width;
                }
                float* x0 = x + ((long)iy[0] * width + ix[0]) * c, x1 = x + ((long)iy[1] * width + ix[1]) * c;
                float* x2 = x + ((long)iy[2] * width + ix[2]) * c, x3 = x + ((long)iy[3] * width + ix[3]) * c;
                float* yo = y + ((long)oy * outW + ox) * filters;
                int f = 0;
                if (inside)
                {
                    for (; f <= filters - 32; f += 32)
                    {
                        Wide(x0, x1, x2, x3, w + f, taps, offsets, filters, bias + f, relu, scale is null ? null : scale + f, shift + f, pool, count, yo + f);
                    }
                }
                for (; f < filters; f += 8)
                {
                    Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
                    float* wf = w + f;
                    for (int ky = 0; ky < k; ky++)
                    {
                        for (int kx = 0; kx < kw; kx++)
                        {
                            for (int ch = 0; ch < c; ch++)
                            {
                                var wv = Vector256.Load(wf + (long)((ky * kw + kx) * c + ch) * filters);
                                if (inside)
                                {
                                    long at = ((long)ky * width + kx) * c + ch;
                                    a0 = Vector256.FusedMultiplyAdd(Vector256.Create(x0[at]), wv, a0);
                                    a1 = Vector256.FusedMultiplyAdd(Vector256.Create(x1[at]), wv, a1);
                                    a2 = Vector256.FusedMultiplyAdd(Vector256.Create(x2[at]), wv, a2);
                                    a3 = Vector256.FusedMultiplyAdd(Vector256.Create(x3[at]), wv, a3);
                                }
                                else
                                {
                                    a0 = Vector256.FusedMultiplyAdd(Vector256.Create(At(x, g, iy[0] + ky, ix[0] + kx, ch)), wv, a0);
                                    a1 = Vector256.FusedMultiplyAdd(Vector256.Create(At(x, g, iy[1] + ky, ix[1] + kx, ch)), wv, a1);
                                    a2 = Vector256.FusedMultiplyAdd(Vector256.Create(At(x, g, iy[2] + ky, ix[2] + kx, ch)), wv, a2);
                                    a3 = Vector256.FusedMultiplyAdd(Vector256.Create(At(x, g, iy[3] + ky, ix[3] + kx, ch)), wv, a3);
                                }
                            }
                        }
                    }
                    Finish(a0, a1, a2, a3, bias + f, relu, scale is null ? null : scale + f, shift + f, pool, count, filters, yo + f);
                }
            }
        }
    }

    // The groups of output row oy (pooled row with pool) whose four pixels' windows all lie inside
    // the image, as [lo, hi) of ox: steps of 1 (pooled) or 4 from 0, only whole groups.
    private static (int Lo, int Hi) InsideGroups(in ConvGeometry g, bool pool, int oy, int outW)
    {
        int top = (pool ? 2 * oy : oy) * g.Stride - g.PadTop;
        int bottom = (pool ? 2 * oy + 1 : oy) * g.Stride - g.PadTop + g.KernelHeight;
        if (top < 0 || bottom > g.Height)
        {
            return (0, 0);
        }
        int per = pool ? 1 : 4, firstPixel = pool ? 2 : 1, lastPixel = pool ? 1 : 3;
        int lo = 0;
        while (lo < outW && lo * firstPixel * g.Stride - g.PadLeft < 0)
        {
            lo += per;
        }
        int hi = lo;
        while (hi + per <= outW && (hi * firstPixel + lastPixel) * g.Stride - g.PadLeft + g.KernelWidth <= g.Width)
        {
            hi += per;
        }
        return (lo, hi);
    }

    // Groups of four pixels whose windows lie inside the image, 32 filters at a time; the first
    // group's first input at x0, the next group's groupStep further; a group's other pixels d1, d2,
    // d3 from its first. One loop over the groups and the taps (their offsets precomputed): about
    // twice as fast as a call per group with a loop per ky, kx and c (docs/benchmarks.md, "Direct
    // convolution and stride-2 phases in training").
    private static unsafe void Interior(float* x0, long groupStep, long d1, long d2, long d3, int groups, float* w, int taps, long* offsets, int filters,
        float* bias, bool relu, float* scale, float* shift, bool pool, float* y, long yStep)
    {
        for (int gi = 0; gi < groups; gi++, x0 += groupStep, y += yStep)
        {
            for (int f = 0; f < filters; f += 32)
            {
                Wide(x0, x0 + d1, x0 + d2, x0 + d3, w + f, taps, offsets, filters, bias + f, relu, scale is null ? null : scale + f, shift + f, pool, 4, y + f);
            }
        }
    }

    // Four pixels (x0..x3: their windows' first inputs) × 32 filters, all taps inside the image:
    // sixteen chains, each input broadcast once for four weight vectors.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Wide(float* x0, float* x1, float* x2, float* x3, float* w, int taps, long* offsets, int filters,
        float* bias, bool relu, float* scale, float* shift, bool pool, int count, float* y)
    {
        Vector256<float> a00 = default, a01 = default, a02 = default, a03 = default, a10 = default, a11 = default, a12 = default, a13 = default;
        Vector256<float> a20 = default, a21 = default, a22 = default, a23 = default, a30 = default, a31 = default, a32 = default, a33 = default;
        float* wt = w;
        for (int t = 0; t < taps; t++, wt += filters)
        {
            long at = offsets[t];
            var w0 = Vector256.Load(wt);
            var w1 = Vector256.Load(wt + 8);
            var w2 = Vector256.Load(wt + 16);
            var w3 = Vector256.Load(wt + 24);
            var v = Vector256.Create(x0[at]);
            a00 = Vector256.FusedMultiplyAdd(v, w0, a00);
            a01 = Vector256.FusedMultiplyAdd(v, w1, a01);
            a02 = Vector256.FusedMultiplyAdd(v, w2, a02);
            a03 = Vector256.FusedMultiplyAdd(v, w3, a03);
            v = Vector256.Create(x1[at]);
            a10 = Vector256.FusedMultiplyAdd(v, w0, a10);
            a11 = Vector256.FusedMultiplyAdd(v, w1, a11);
            a12 = Vector256.FusedMultiplyAdd(v, w2, a12);
            a13 = Vector256.FusedMultiplyAdd(v, w3, a13);
            v = Vector256.Create(x2[at]);
            a20 = Vector256.FusedMultiplyAdd(v, w0, a20);
            a21 = Vector256.FusedMultiplyAdd(v, w1, a21);
            a22 = Vector256.FusedMultiplyAdd(v, w2, a22);
            a23 = Vector256.FusedMultiplyAdd(v, w3, a23);
            v = Vector256.Create(x3[at]);
            a30 = Vector256.FusedMultiplyAdd(v, w0, a30);
            a31 = Vector256.FusedMultiplyAdd(v, w1, a31);
            a32 = Vector256.FusedMultiplyAdd(v, w2, a32);
            a33 = Vector256.FusedMultiplyAdd(v, w3, a33);
        }
        Finish(a00, a10, a20, a30, bias, relu, scale, shift, pool, count, filters, y);
        Finish(a01, a11, a21, a31, bias + 8, relu, scale is null ? null : scale + 8, shift + 8, pool, count, filters, y + 8);
        Finish(a02, a12, a22, a32, bias + 16, relu, scale is null ? null : scale + 16, shift + 16, pool, count, filters, y + 16);
        Finish(a03, a13, a23, a33, bias + 24, relu, scale is null ? null : scale + 24, shift + 24, pool, count, filters, y + 24);
    }

    // The epilogue of four pixels' sums for 8 filters, then their max or the real pixels stored.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Finish(Vector256<float> a0, Vector256<float> a1, Vector256<float> a2, Vector256<float> a3, float* bias, bool relu, float* scale, float* shift, bool pool, int count, int filters, float* y)
    {
        var b = Vector256.Load(bias);
        a0 += b;
        a1 += b;
        a2 += b;
        a3 += b;
        if (relu)
        {
            a0 = Vector256.Max(a0, Vector256<float>.Zero);
            a1 = Vector256.Max(a1, Vector256<float>.Zero);
            a2 = Vector256.Max(a2, Vector256<float>.Zero);
            a3 = Vector256.Max(a3, Vector256<float>.Zero);
        }
        if (scale is not null)
        {
            var sc = Vector256.Load(scale);
            var sh = Vector256.Load(shift);
            a0 = a0 * sc + sh;
            a1 = a1 * sc + sh;
            a2 = a2 * sc + sh;
            a3 = a3 * sc + sh;
        }
        if (pool)
        {
            Vector256.Max(Vector256.Max(a0, a1), Vector256.Max(a2, a3)).Store(y);
            return;
        }
        a0.Store(y);
        if (count > 1)
        {
            a1.Store(y + filters);
        }
        if (count > 2)
        {
            a2.Store(y + 2 * filters);
        }
        if (count > 3)
        {
            a3.Store(y + 3 * filters);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe float At(float* x, in ConvGeometry g, int yy, int xx, int ch) =>
        (uint)yy < (uint)g.Height && (uint)xx < (uint)g.Width ? x[((long)yy * g.Width + xx) * g.Channels + ch] : 0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float At(ReadOnlySpan<float> x, in ConvGeometry g, int yy, int xx, int ch) =>
        (uint)yy < (uint)g.Height && (uint)xx < (uint)g.Width ? x[(yy * g.Width + xx) * g.Channels + ch] : 0;

    /// <summary>The scalar twin of <see cref="Forward"/>: the same sums in the same order, one output at a time.</summary>
    public static void ForwardScalar(ReadOnlySpan<float> x, ReadOnlySpan<float> w, in ConvGeometry g, int filters, in ConvEpilogue epilogue, Span<float> y)
    {
        Check(x, w, g, filters, epilogue, y);
        int outW = epilogue.Pool2 ? g.OutWidth / 2 : g.OutWidth;
        int outH = epilogue.Pool2 ? g.OutHeight / 2 : g.OutHeight;
        for (int oy = 0; oy < outH; oy++)
        {
            for (int ox = 0; ox < outW; ox++)
            {
                for (int f = 0; f < filters; f++)
                {
                    float best = float.NegativeInfinity;
                    for (int i = 0; i < (epilogue.Pool2 ? 4 : 1); i++)
                    {
                        int yy = epilogue.Pool2 ? 2 * oy + i / 2 : oy, xx = epilogue.Pool2 ? 2 * ox + i % 2 : ox;
                        float sum = 0;
                        for (int ky = 0; ky < g.KernelHeight; ky++)
                        {
                            for (int kx = 0; kx < g.KernelWidth; kx++)
                            {
                                for (int ch = 0; ch < g.Channels; ch++)
                                {
                                    float v = At(x, g, yy * g.Stride - g.PadTop + ky, xx * g.Stride - g.PadLeft + kx, ch);
                                    sum = MathF.FusedMultiplyAdd(v, w[((ky * g.KernelWidth + kx) * g.Channels + ch) * filters + f], sum);
                                }
                            }
                        }
                        float value = epilogue.Apply(sum + epilogue.Bias[f], f);
                        best = i == 0 ? value : MathF.Max(best, value);
                    }
                    y[(oy * outW + ox) * filters + f] = best;
                }
            }
        }
    }

    /// <summary>
    /// The weight and bias gradients of one image of a convolution without epilogue: for each tap t
    /// (ky, kx, c) and filter f, dw[t, f] += Σ over the output pixels p, in order, of x at p's tap t
    /// (0 outside the image) × dy[p, f], fused into a sum from 0; db[f] += Σ dy[p, f] likewise.
    /// </summary>
    // x: [H, W, C], dy: [OH, OW, F] → dw: [KH, KW, C, F], db: [F] (accumulated)
    public static void WeightGradient(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, in ConvGeometry g, int filters, Span<float> dw, Span<float> db)
    {
        CheckGradient(x, dy, g, filters, dw, db);
        if (!IsAccelerated(filters))
        {
            WeightGradientScalar(x, dy, g, filters, dw, db);
            return;
        }
        int taps = g.PatchSize;
        long* offsets = stackalloc long[taps];
        fixed (float* px = x, pdy = dy, pdw = dw, pdb = db)
        {
            for (int t = 0; t < taps; t++)
            {
                int ky = t / (g.KernelWidth * g.Channels), kx = t / g.Channels % g.KernelWidth, ch = t % g.Channels;
                offsets[t] = ((long)ky * g.Width + kx) * g.Channels + ch;
            }
            // Nine taps' sums in registers per pass over the pixels, 16 or 8 filters at a time.
            bool wide = Vector512.IsHardwareAccelerated && filters % 16 == 0;
            for (int t0 = 0; t0 < taps; t0 += 9)
            {
                for (int f = 0; f < filters; f += wide ? 16 : 8)
                {
                    float* dw0 = pdw + (long)t0 * filters + f, db0 = t0 == 0 ? pdb + f : null;
                    if (wide)
                    {
                        WeightGradientPass<Lanes512>(px, pdy + f, g, filters, offsets, t0, Math.Min(9, taps - t0), dw0, db0);
                    }
                    else
                    {
                        WeightGradientPass<Lanes256>(px, pdy + f, g, filters, offsets, t0, Math.Min(9, taps - t0), dw0, db0);
                    }
                }
            }
        }
    }

    // Taps [t0, t0 + n) (n ≤ 9) × T.Count filters: dw (row stride filters) and, when not null, db.
    // 16 filters a pass where 512-bit vectors run: the same lanes in the same order (the same bits),
    // half the passes over dy and the broadcasts, 1.6× faster on Zen 4 (docs/benchmarks.md, "Direct
    // convolution and stride-2 phases in training").
    private static unsafe void WeightGradientPass<T>(float* x, float* dy, in ConvGeometry g, int filters, long* offsets, int t0, int n, float* dw, float* db) where T : unmanaged, ILanes<T>
    {
        T a0 = T.Create(0f), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0, sum = a0;
        long o0 = offsets[t0], o1 = offsets[t0 + Math.Min(1, n - 1)], o2 = offsets[t0 + Math.Min(2, n - 1)], o3 = offsets[t0 + Math.Min(3, n - 1)];
        long o4 = offsets[t0 + Math.Min(4, n - 1)], o5 = offsets[t0 + Math.Min(5, n - 1)], o6 = offsets[t0 + Math.Min(6, n - 1)];
        long o7 = offsets[t0 + Math.Min(7, n - 1)], o8 = offsets[t0 + Math.Min(8, n - 1)];
        int c = g.Channels, width = g.Width;
        for (int oy = 0; oy < g.OutHeight; oy++)
        {
            int top = oy * g.Stride - g.PadTop;
            bool rowInside = top >= 0 && top + g.KernelHeight <= g.Height;
            for (int ox = 0; ox < g.OutWidth; ox++)
            {
                int left = ox * g.Stride - g.PadLeft;
                var d = T.Load(dy + ((long)oy * g.OutWidth + ox) * filters);
                sum += d;
                if (rowInside && left >= 0 && left + g.KernelWidth <= width)
                {
                    // The window inside the image: its taps at fixed offsets (the unused ones repeat the last, summed in vain).
                    float* xp = x + ((long)top * width + left) * c;
                    a0 = T.FusedMultiplyAdd(T.Create(xp[o0]), d, a0);
                    a1 = T.FusedMultiplyAdd(T.Create(xp[o1]), d, a1);
                    a2 = T.FusedMultiplyAdd(T.Create(xp[o2]), d, a2);
                    a3 = T.FusedMultiplyAdd(T.Create(xp[o3]), d, a3);
                    a4 = T.FusedMultiplyAdd(T.Create(xp[o4]), d, a4);
                    a5 = T.FusedMultiplyAdd(T.Create(xp[o5]), d, a5);
                    a6 = T.FusedMultiplyAdd(T.Create(xp[o6]), d, a6);
                    a7 = T.FusedMultiplyAdd(T.Create(xp[o7]), d, a7);
                    a8 = T.FusedMultiplyAdd(T.Create(xp[o8]), d, a8);
                    continue;
                }
                a0 = T.FusedMultiplyAdd(T.Create(Tap(x, g, top, left, t0)), d, a0);
                a1 = T.FusedMultiplyAdd(T.Create(Tap(x, g, top, left, t0 + Math.Min(1, n - 1))), d, a1);
                a2 = T.FusedMultiplyAdd(T.Create(Tap(x, g, top, left, t0 + Math.Min(2, n - 1))), d, a2);
                a3 = T.FusedMultiplyAdd(T.Create(Tap(x, g, top, left, t0 + Math.Min(3, n - 1))), d, a3);
                a4 = T.FusedMultiplyAdd(T.Create(Tap(x, g, top, left, t0 + Math.Min(4, n - 1))), d, a4);
                a5 = T.FusedMultiplyAdd(T.Create(Tap(x, g, top, left, t0 + Math.Min(5, n - 1))), d, a5);
                a6 = T.FusedMultiplyAdd(T.Create(Tap(x, g, top, left, t0 + Math.Min(6, n - 1))), d, a6);
                a7 = T.FusedMultiplyAdd(T.Create(Tap(x, g, top, left, t0 + Math.Min(7, n - 1))), d, a7);
                a8 = T.FusedMultiplyAdd(T.Create(Tap(x, g, top, left, t0 + Math.Min(8, n - 1))), d, a8);
            }
        }
        if (db is not null)
        {
            T.Store(T.Load(db) + sum, db);
        }
        Add(dw, a0);
        if (n > 1) { Add(dw + filters, a1); }
        if (n > 2) { Add(dw + 2L * filters, a2); }
        if (n > 3) { Add(dw + 3L * filters, a3); }
        if (n > 4) { Add(dw + 4L * filters, a4); }
        if (n > 5) { Add(dw + 5L * filters, a5); }
        if (n > 6) { Add(dw + 6L * filters, a6); }
        if (n > 7) { Add(dw + 7L * filters, a7); }
        if (n > 8) { Add(dw + 8L * filters, a8); }

        static void Add(float* at, T v) => T.Store(T.Load(at) + v, at);
    }

    // Tap t (ky, kx, c) of the window whose first input is at (top, left): 0 outside the image.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe float Tap(float* x, in ConvGeometry g, int top, int left, int t)
    {
        int ky = t / (g.KernelWidth * g.Channels), kx = t / g.Channels % g.KernelWidth, ch = t % g.Channels;
        return At(x, g, top + ky, left + kx, ch);
    }

    /// <summary>The scalar twin of <see cref="WeightGradient"/>: the same sums in the same order.</summary>
    public static void WeightGradientScalar(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, in ConvGeometry g, int filters, Span<float> dw, Span<float> db)
    {
        CheckGradient(x, dy, g, filters, dw, db);
        for (int f = 0; f < filters; f++)
        {
            float bias = 0;
            for (int p = 0; p < g.OutPixels; p++)
            {
                bias += dy[p * filters + f];
            }
            db[f] += bias;
            for (int t = 0; t < g.PatchSize; t++)
            {
                int ky = t / (g.KernelWidth * g.Channels), kx = t / g.Channels % g.KernelWidth, ch = t % g.Channels;
                float sum = 0;
                for (int oy = 0; oy < g.OutHeight; oy++)
                {
                    for (int ox = 0; ox < g.OutWidth; ox++)
                    {
                        float v = At(x, g, oy * g.Stride - g.PadTop + ky, ox * g.Stride - g.PadLeft + kx, ch);
                        sum = MathF.FusedMultiplyAdd(v, dy[(oy * g.OutWidth + ox) * filters + f], sum);
                    }
                }
                dw[t * filters + f] += sum;
            }
        }
    }

    private static void CheckGradient(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, in ConvGeometry g, int filters, Span<float> dw, Span<float> db)
    {
        if (x.Length < g.Height * g.Width * g.Channels || dy.Length < g.OutPixels * filters || dw.Length < g.PatchSize * filters || db.Length < filters)
        {
            throw new ArgumentException($"Direct weight gradient of {x.Length} inputs and {dy.Length} output gradients into {dw.Length} weights and {db.Length} biases for {g} and {filters} filters.");
        }
    }

    private static void Check(ReadOnlySpan<float> x, ReadOnlySpan<float> w, in ConvGeometry g, int filters, in ConvEpilogue epilogue, Span<float> y)
    {
        epilogue.Check(filters);
        long outputs = (epilogue.Pool2 ? (long)(g.OutHeight / 2) * (g.OutWidth / 2) : g.OutPixels) * filters;
        if (x.Length < g.Height * g.Width * g.Channels || w.Length < g.PatchSize * filters || y.Length < outputs)
        {
            throw new ArgumentException($"Direct convolution of {x.Length} inputs, {w.Length} weights into {y.Length} outputs for {g} and {filters} filters.");
        }
    }
}
