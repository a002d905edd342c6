using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Convnet.Kernels;

/// <summary>
/// The copies that let training run its 3×3 stride-1 convolutions through <see cref="Winograd"/> and
/// <see cref="Winograd4"/>, whose input transforms read a "valid" image from its top-left corner:
/// a zero border on top and left (padding "same", and the input gradient's full correlation), and
/// the input gradient's kernel (the forward kernel turned 180° with its channels swapped); and
/// F(4×4, 3×3)'s weight transform in float, eight channel pairs at a time, as a training step
/// transforms the kernel twice per batch (<see cref="Winograd4.TransformWeights"/> in double, one
/// pair at a time, took ~0.4 ms of a 3 ms forward); and the two transforms of the weight gradient
/// by Winograd: with the forward per tile y = Aᵀ[(G·g·Gᵀ) ⊙ (Bᵀ·d·B)]A, the gradient of the kernel g
/// of a channel pair is Gᵀ[Σ over tiles (Bᵀ·d·B) ⊙ (A·dy·Aᵀ)]G, so the output gradient is
/// transformed by A (<see cref="TransformOutputGradient"/>), the tiles summed by products of the
/// transformed input and output gradient per point, and the sums brought back by G
/// (<see cref="AccumulateKernelGradient"/>).
/// </summary>
public static unsafe class WinogradTraining
{
    // Winograd4's G [6, 3] in float: u = G·g·Gᵀ.
    private const float Quarter = 1 / 4f, Sixth = 1 / 6f, Twelfth = 1 / 12f, TwentyFourth = 1 / 24f;

    /// <summary>U = G·g·Gᵀ of F(4×4, 3×3) for every channel pair, in float (within a few units in 1e-7 of <see cref="Winograd4.TransformWeights"/>).</summary>
    // w: [3, 3, C, F] → u: [36, C, F]
    public static void TransformWeights4(ReadOnlySpan<float> w, int channels, int filters, Span<float> u) =>
        TransformWeights4(w, channels, filters, 0, channels * filters, u);

    /// <summary>
    /// <see cref="TransformWeights4(ReadOnlySpan{float}, int, int, Span{float})"/> of the channel pairs
    /// [<paramref name="first"/>, + <paramref name="count"/>) (index c·F + f) only, so that blocks of
    /// pairs can run on several threads; with <paramref name="first"/> a multiple of 8 each pair takes
    /// the same operations as in the whole transform.
    /// </summary>
    // w: [3, 3, C, F] → u: [36, C, F], pairs first.. only
    public static void TransformWeights4(ReadOnlySpan<float> w, int channels, int filters, int first, int count, Span<float> u)
    {
        int cf = channels * filters;
        if (w.Length < 9 * cf || u.Length < Winograd4.Points * cf)
        {
            throw new ArgumentException($"Kernel of {w.Length} and transform of {u.Length} values for 3×3×{channels}×{filters}.");
        }
        if (first < 0 || count < 0 || first > cf - count)
        {
            throw new ArgumentOutOfRangeException(nameof(count), $"Pairs [{first}, {first} + {count}) outside the kernel's {cf}.");
        }
        int p = first, end = first + count;
        if (Vector256.IsHardwareAccelerated)
        {
            Span<Vector256<float>> g = stackalloc Vector256<float>[9];
            Span<Vector256<float>> t = stackalloc Vector256<float>[18];
            Span<Vector256<float>> r = stackalloc Vector256<float>[36];
            for (; p + 8 <= end; p += 8)
            {
                for (int i = 0; i < 9; i++)
                {
                    g[i] = Vector256.Create(w.Slice(i * cf + p, 8));
                }
                Transform(g, t, r);
                for (int i = 0; i < 36; i++)
                {
                    r[i].CopyTo(u.Slice(i * cf + p, 8));
                }
            }
        }
        ScalarPairs(w, cf, p, end, u);
    }

    /// <summary>The scalar twin of <see cref="TransformWeights4(ReadOnlySpan{float}, int, int, Span{float})"/>: the same operations in the same order, one pair at a time.</summary>
    public static void TransformWeights4Scalar(ReadOnlySpan<float> w, int channels, int filters, Span<float> u)
    {
        int cf = channels * filters;
        if (w.Length < 9 * cf || u.Length < Winograd4.Points * cf)
        {
            throw new ArgumentException($"Kernel of {w.Length} and transform of {u.Length} values for 3×3×{channels}×{filters}.");
        }
        ScalarPairs(w, cf, 0, cf, u);
    }

    private static void ScalarPairs(ReadOnlySpan<float> w, int cf, int from, int end, Span<float> u)
    {
        Span<float> g = stackalloc float[9];
        Span<float> t = stackalloc float[18];
        Span<float> r = stackalloc float[36];
        for (int p = from; p < end; p++)
        {
            for (int i = 0; i < 9; i++)
            {
                g[i] = w[i * cf + p];
            }
            TransformScalar(g, t, r);
            for (int i = 0; i < 36; i++)
            {
                u[i * cf + p] = r[i];
            }
        }
    }

    // t = G·g [6, 3] by rows of G, then r = t·Gᵀ [6, 6]; G's rows: (¼, 0, 0), −⅙(1, 1, 1), −⅙(1, −1, 1), (1/24, 1/12, ⅙), (1/24, −1/12, ⅙), (0, 0, 1).
    private static void Transform(ReadOnlySpan<Vector256<float>> g, Span<Vector256<float>> t, Span<Vector256<float>> r)
    {
        for (int j = 0; j < 3; j++)
        {
            Rows(g[j], g[3 + j], g[6 + j], out t[j], out t[3 + j], out t[6 + j], out t[9 + j], out t[12 + j], out t[15 + j]);
        }
        for (int i = 0; i < 6; i++)
        {
            Rows(t[i * 3], t[i * 3 + 1], t[i * 3 + 2], out r[i * 6], out r[i * 6 + 1], out r[i * 6 + 2], out r[i * 6 + 3], out r[i * 6 + 4], out r[i * 6 + 5]);
        }
    }

    private static void Rows(Vector256<float> a, Vector256<float> b, Vector256<float> c, out Vector256<float> o0, out Vector256<float> o1, out Vector256<float> o2, out Vector256<float> o3, out Vector256<float> o4, out Vector256<float> o5)
    {
        var ac = a + c;
        var a24 = a * TwentyFourth;
        var sixthC = c * Sixth;
        var twelfthB = b * Twelfth;
        o0 = a * Quarter;
        o1 = -(ac + b) * Sixth;
        o2 = -(ac - b) * Sixth;
        o3 = a24 + twelfthB + sixthC;
        o4 = a24 - twelfthB + sixthC;
        o5 = c;
    }

    private static void TransformScalar(ReadOnlySpan<float> g, Span<float> t, Span<float> r)
    {
        for (int j = 0; j < 3; j++)
        {
            RowsScalar(g[j], g[3 + j], g[6 + j], out t[j], out t[3 + j], out t[6 + j], out t[9 + j], out t[12 + j], out t[15 + j]);
        }
        for (int i = 0; i < 6; i++)
        {
            RowsScalar(t[i * 3], t[i * 3 + 1], t[i * 3 + 2], out r[i * 6], out r[i * 6 + 1], out r[i * 6 + 2], out r[i * 6 + 3], out r[i * 6 + 4], out r[i * 6 + 5]);
        }
    }

    private static void RowsScalar(float a, float b, float c, out float o0, out float o1, out float o2, out float o3, out float o4, out float o5)
    {
        float ac = a + c;
        float a24 = a * TwentyFourth;
        float sixthC = c * Sixth;
        float twelfthB = b * Twelfth;
        o0 = a * Quarter;
        o1 = -(ac + b) * Sixth;
        o2 = -(ac - b) * Sixth;
        o3 = a24 + twelfthB + sixthC;
        o4 = a24 - twelfthB + sixthC;
        o5 = c;
    }

    /// <summary>
    /// The kernel of the input gradient: dx = dy ⋆ w′ (a "valid" correlation of dy padded by 2 − pad)
    /// with w′[i, j, f, c] = w[2 − i, 2 − j, c, f].
    /// </summary>
    // w: [3, 3, C, F] → rotated: [3, 3, F, C]
    public static void RotateKernel(ReadOnlySpan<float> w, int channels, int filters, Span<float> rotated)
    {
        int cf = channels * filters;
        if (w.Length < 9 * cf || rotated.Length < 9 * cf)
        {
            throw new ArgumentException($"Kernels of {w.Length} and {rotated.Length} values for 3×3×{channels}×{filters}.");
        }
        for (int i = 0; i < 9; i++)
        {
            var from = w.Slice((8 - i) * cf, cf);
            var to = rotated.Slice(i * cf, cf);
            for (int c = 0; c < channels; c++)
            {
                for (int f = 0; f < filters; f++)
                {
                    to[f * channels + c] = from[c * filters + f];
                }
            }
        }
    }

    /// <summary>
    /// Copies an image into a larger one with <paramref name="top"/> rows and <paramref name="left"/>
    /// columns of zeros before it and zeros after it; whatever falls outside the padded size is dropped.
    /// </summary>
    // x: [H, W, C] → padded: [PH, PW, C]
    public static void PadImage(ReadOnlySpan<float> x, int height, int width, int channels, int top, int left, int paddedHeight, int paddedWidth, Span<float> padded)
    {
        if (x.Length < height * width * channels || padded.Length < paddedHeight * paddedWidth * channels || top < 0 || left < 0)
        {
            throw new ArgumentException($"Padding {height}×{width}×{channels} ({x.Length} values) by ({top}, {left}) into {paddedHeight}×{paddedWidth} ({padded.Length} values).");
        }
        int paddedRow = paddedWidth * channels;
        int columns = Math.Clamp(paddedWidth - left, 0, width) * channels;
        for (int py = 0; py < paddedHeight; py++)
        {
            var row = padded.Slice(py * paddedRow, paddedRow);
            int y = py - top;
            if (y < 0 || y >= height || columns == 0)
            {
                row.Clear();
                continue;
            }
            row[..(left * channels)].Clear();
            x.Slice(y * width * channels, columns).CopyTo(row.Slice(left * channels, columns));
            row[(left * channels + columns)..].Clear();
        }
    }

    /// <summary>
    /// D = A·dy·Aᵀ of every tile of one output gradient (F(4×4, 3×3) when <paramref name="four"/>, else
    /// F(2×2, 3×3)), written as rows <paramref name="firstTile"/>.. of the 36 or 16 matrices [tiles, F]
    /// (row stride <paramref name="rowStride"/> ≥ F, matrix stride <paramref name="pointStride"/>), as
    /// <see cref="Winograd.TransformInput"/> lays out V; outputs past the map's edge read as 0.
    /// </summary>
    // dy: [OH, OW, F] → d: [36 or 16][tiles, F]
    public static void TransformOutputGradient(ReadOnlySpan<float> dy, int outHeight, int outWidth, int filters, bool four, int tileRows, int tileColumns, Span<float> d, int firstTile, int rowStride, int pointStride)
    {
        CheckGradient(dy.Length, outHeight, outWidth, filters, four, tileRows, tileColumns, d.Length, firstTile, rowStride, pointStride);
        if (Vector512.IsHardwareAccelerated && filters % 16 == 0)
        {
            TransformOutputGradient<Lanes512>(dy, outHeight, outWidth, filters, four, tileRows, tileColumns, d, firstTile, rowStride, pointStride);
        }
        else if (Vector256.IsHardwareAccelerated && filters % 8 == 0)
        {
            TransformOutputGradient<Lanes256>(dy, outHeight, outWidth, filters, four, tileRows, tileColumns, d, firstTile, rowStride, pointStride);
        }
        else
        {
            TransformOutputGradientScalar(dy, outHeight, outWidth, filters, four, tileRows, tileColumns, d, firstTile, rowStride, pointStride);
        }
    }

    private static void TransformOutputGradient<T>(ReadOnlySpan<float> dy, int outHeight, int outWidth, int filters, bool four, int tileRows, int tileColumns, Span<float> d, int firstTile, int rowStride, int pointStride) where T : unmanaged, ILanes<T>
    {
        if (four)
        {
            TransformOutputGradient4<T>(dy, outHeight, outWidth, filters, tileRows, tileColumns, d, firstTile, rowStride, pointStride);
            return;
        }
        // F(2×2)'s tiles, through small arrays on the stack.
        const int n = 2, side = n + 2;
        var block = stackalloc T[16];
        var t = stackalloc T[24];
        var row = stackalloc T[6];
        fixed (float* pdy = dy, pd = d)
        {
            for (int ty = 0; ty < tileRows; ty++)
            {
                for (int tx = 0; tx < tileColumns; tx++)
                {
                    float* dst = pd + (long)(firstTile + ty * tileColumns + tx) * rowStride;
                    for (int f = 0; f < filters; f += T.Count)
                    {
                        // The n×n block of outputs, zeros past the map's edge.
                        for (int r = 0; r < n; r++)
                        {
                            for (int c = 0; c < n; c++)
                            {
                                int oy = n * ty + r, ox = n * tx + c;
                                block[r * 4 + c] = oy < outHeight && ox < outWidth ? T.Load(pdy + ((long)oy * outWidth + ox) * filters + f) : T.Create(0f);
                            }
                        }
                        // A·dy down each column (t: [side, n] with row stride 4), then ·Aᵀ along each row.
                        for (int c = 0; c < n; c++)
                        {
                            Up2(block[c], block[4 + c], t + c, 4);
                        }
                        for (int i = 0; i < side; i++)
                        {
                            T* ti = t + i * 4;
                            Up2(ti[0], ti[1], row, 1);
                            for (int j = 0; j < side; j++)
                            {
                                T.Store(row[j], dst + (long)(i * side + j) * pointStride + f);
                            }
                        }
                    }
                }
            }
        }
    }

    // F(4×4)'s tiles with the block and both passes in registers (through stack arrays the block,
    // the column pass and each row went to memory and back: 112 stores for 36 outputs); the same
    // operations in the same order as the scalar twin's UpScalar.
    private static void TransformOutputGradient4<T>(ReadOnlySpan<float> dy, int outHeight, int outWidth, int filters, int tileRows, int tileColumns, Span<float> d, int firstTile, int rowStride, int pointStride) where T : unmanaged, ILanes<T>
    {
        long p = pointStride;
        fixed (float* pdy = dy, pd = d)
        {
            for (int ty = 0; ty < tileRows; ty++)
            {
                for (int tx = 0; tx < tileColumns; tx++)
                {
                    float* dst = pd + (long)(firstTile + ty * tileColumns + tx) * rowStride;
                    int y0 = 4 * ty, x0 = 4 * tx;
                    int rows = Math.Min(4, outHeight - y0), columns = Math.Min(4, outWidth - x0);
                    float* src = pdy + ((long)y0 * outWidth + x0) * filters;
                    long next = (long)outWidth * filters;
                    for (int f = 0; f < filters; f += T.Count)
                    {
                        // A·dy down each column: column c gives t[0..5][c].
                        Column<T>(src + f, next, rows, columns > 0, out var t00, out var t10, out var t20, out var t30, out var t40, out var t50);
                        Column<T>(src + filters + f, next, rows, columns > 1, out var t01, out var t11, out var t21, out var t31, out var t41, out var t51);
                        Column<T>(src + 2 * filters + f, next, rows, columns > 2, out var t02, out var t12, out var t22, out var t32, out var t42, out var t52);
                        Column<T>(src + 3 * filters + f, next, rows, columns > 3, out var t03, out var t13, out var t23, out var t33, out var t43, out var t53);
                        // ·Aᵀ along each row i, stored as points 6i..6i+5.
                        float* o = dst + f;
                        Row<T>(t00, t01, t02, t03, o, p);
                        Row<T>(t10, t11, t12, t13, o + 6 * p, p);
                        Row<T>(t20, t21, t22, t23, o + 12 * p, p);
                        Row<T>(t30, t31, t32, t33, o + 18 * p, p);
                        Row<T>(t40, t41, t42, t43, o + 24 * p, p);
                        Row<T>(t50, t51, t52, t53, o + 30 * p, p);
                    }
                }
            }
        }
    }

    // A·d of one column of the 4×4 block (rows past the map, or a column past it, read as 0): F(4×4)'s
    // A [6, 4] has rows (1, 0, 0, 0), (1, 1, 1, 1), (1, −1, 1, −1), (1, 2, 4, 8), (1, −2, 4, −8), (0, 0, 0, 1).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Column<T>(float* column, long next, int rows, bool inside, out T o0, out T o1, out T o2, out T o3, out T o4, out T o5) where T : unmanaged, ILanes<T>
    {
        var zero = T.Create(0f);
        var d0 = inside && rows > 0 ? T.Load(column) : zero;
        var d1 = inside && rows > 1 ? T.Load(column + next) : zero;
        var d2 = inside && rows > 2 ? T.Load(column + 2 * next) : zero;
        var d3 = inside && rows > 3 ? T.Load(column + 3 * next) : zero;
        var even = d0 + d2;
        var odd = d1 + d3;
        var even4 = d0 + T.Create(4f) * d2;
        var odd8 = T.Create(2f) * d1 + T.Create(8f) * d3;
        o0 = d0;
        o1 = even + odd;
        o2 = even - odd;
        o3 = even4 + odd8;
        o4 = even4 - odd8;
        o5 = d3;
    }

    // A·d of one row of the column pass, the six values stored stride apart.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Row<T>(T d0, T d1, T d2, T d3, float* o, long stride) where T : unmanaged, ILanes<T>
    {
        var even = d0 + d2;
        var odd = d1 + d3;
        var even4 = d0 + T.Create(4f) * d2;
        var odd8 = T.Create(2f) * d1 + T.Create(8f) * d3;
        T.Store(d0, o);
        T.Store(even + odd, o + stride);
        T.Store(even - odd, o + 2 * stride);
        T.Store(even4 + odd8, o + 3 * stride);
        T.Store(even4 - odd8, o + 4 * stride);
        T.Store(d3, o + 5 * stride);
    }

    /// <summary>The scalar twin of <see cref="TransformOutputGradient"/>: the same operations in the same order, one filter at a time.</summary>
    public static void TransformOutputGradientScalar(ReadOnlySpan<float> dy, int outHeight, int outWidth, int filters, bool four, int tileRows, int tileColumns, Span<float> d, int firstTile, int rowStride, int pointStride)
    {
        CheckGradient(dy.Length, outHeight, outWidth, filters, four, tileRows, tileColumns, d.Length, firstTile, rowStride, pointStride);
        int n = four ? 4 : 2, side = n + 2;
        Span<float> block = stackalloc float[16];
        Span<float> t = stackalloc float[24];
        Span<float> row = stackalloc float[6];
        for (int ty = 0; ty < tileRows; ty++)
        {
            for (int tx = 0; tx < tileColumns; tx++)
            {
                int at = (firstTile + ty * tileColumns + tx) * rowStride;
                for (int f = 0; f < filters; f++)
                {
                    for (int r = 0; r < n; r++)
                    {
                        for (int c = 0; c < n; c++)
                        {
                            int oy = n * ty + r, ox = n * tx + c;
                            block[r * 4 + c] = oy < outHeight && ox < outWidth ? dy[(oy * outWidth + ox) * filters + f] : 0;
                        }
                    }
                    for (int c = 0; c < n; c++)
                    {
                        UpScalar(four, block[c], block[4 + c], block[8 + c], block[12 + c], t, c, 4);
                    }
                    for (int i = 0; i < side; i++)
                    {
                        UpScalar(four, t[i * 4], t[i * 4 + 1], t[i * 4 + 2], t[i * 4 + 3], row, 0, 1);
                        for (int j = 0; j < side; j++)
                        {
                            d[(i * side + j) * pointStride + at + f] = row[j];
                        }
                    }
                }
            }
        }
    }

    // A·d of two values: F(2×2)'s A [4, 2] has rows (1, 0), (1, 1), (1, −1), (0, −1).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Up2<T>(T d0, T d1, T* o, int stride) where T : unmanaged, ILanes<T>
    {
        o[0] = d0;
        o[stride] = d0 + d1;
        o[2 * stride] = d0 - d1;
        o[3 * stride] = -d1;
    }

    private static void UpScalar(bool four, float d0, float d1, float d2, float d3, Span<float> o, int at, int stride)
    {
        o[at] = d0;
        if (four)
        {
            float even = d0 + d2;
            float odd = d1 + d3;
            float even4 = d0 + 4f * d2;
            float odd8 = 2f * d1 + 8f * d3;
            o[at + stride] = even + odd;
            o[at + 2 * stride] = even - odd;
            o[at + 3 * stride] = even4 + odd8;
            o[at + 4 * stride] = even4 - odd8;
            o[at + 5 * stride] = d3;
        }
        else
        {
            o[at + stride] = d0 + d1;
            o[at + 2 * stride] = d0 - d1;
            o[at + 3 * stride] = -d1;
        }
    }

    private static void CheckGradient(int dyLength, int outHeight, int outWidth, int filters, bool four, int tileRows, int tileColumns, int dLength, int firstTile, int rowStride, int pointStride)
    {
        int n = four ? 4 : 2;
        if (dyLength < outHeight * outWidth * filters || n * tileRows < outHeight || n * tileColumns < outWidth || rowStride < filters)
        {
            throw new ArgumentException($"Output gradient of {dyLength} values for {outHeight}×{outWidth}×{filters} in {tileRows}×{tileColumns} tiles of {n}×{n}.");
        }
        if (dLength < (long)((n + 2) * (n + 2) - 1) * pointStride + (long)(firstTile + tileRows * tileColumns) * rowStride)
        {
            throw new ArgumentException($"Transformed gradient of {dLength} values is too small for tiles up to {firstTile + tileRows * tileColumns} of {filters} filters.");
        }
    }

    /// <summary>
    /// dw += Gᵀ·M·G for the channel pairs [<paramref name="first"/>, first + count) of the summed
    /// products M (F(4×4, 3×3)'s 36 points when <paramref name="four"/>, else F(2×2, 3×3)'s 16).
    /// </summary>
    // m: [36 or 16, pairs] → dw: [3, 3, pairs] (accumulated)
    public static void AccumulateKernelGradient(ReadOnlySpan<float> m, int pairs, bool four, int first, int count, Span<float> dw)
    {
        CheckKernelGradient(m.Length, pairs, four, first, count, dw.Length);
        int side = four ? 6 : 4;
        int q = first, end = first + count;
        if (Vector256.IsHardwareAccelerated)
        {
            var points = stackalloc Vector256<float>[36];
            var t = stackalloc Vector256<float>[18];
            var o = stackalloc Vector256<float>[9];
            fixed (float* pm = m, pdw = dw)
            {
                for (; q + 8 <= end; q += 8)
                {
                    for (int p = 0; p < side * side; p++)
                    {
                        points[p] = Vector256.Load(pm + (long)p * pairs + q);
                    }
                    // Gᵀ along each row of M (t: [side, 3]), then down each column.
                    for (int i = 0; i < side; i++)
                    {
                        Vector256<float>* r = points + i * side;
                        Down(four, r[0], r[1], r[2], r[3], four ? r[4] : default, four ? r[5] : default, t + i * 3, 1);
                    }
                    for (int k = 0; k < 3; k++)
                    {
                        Down(four, t[k], t[3 + k], t[6 + k], t[9 + k], four ? t[12 + k] : default, four ? t[15 + k] : default, o + k, 3);
                    }
                    for (int k = 0; k < 9; k++)
                    {
                        float* target = pdw + (long)k * pairs + q;
                        (Vector256.Load(target) + o[k]).Store(target);
                    }
                }
            }
        }
        KernelGradientScalar(m, pairs, four, q, end, dw);
    }

    /// <summary>The scalar twin of <see cref="AccumulateKernelGradient"/>: the same operations in the same order, one pair at a time.</summary>
    public static void AccumulateKernelGradientScalar(ReadOnlySpan<float> m, int pairs, bool four, int first, int count, Span<float> dw)
    {
        CheckKernelGradient(m.Length, pairs, four, first, count, dw.Length);
        KernelGradientScalar(m, pairs, four, first, first + count, dw);
    }

    private static void KernelGradientScalar(ReadOnlySpan<float> m, int pairs, bool four, int from, int end, Span<float> dw)
    {
        int side = four ? 6 : 4;
        Span<float> points = stackalloc float[36];
        Span<float> t = stackalloc float[18];
        Span<float> o = stackalloc float[9];
        for (int q = from; q < end; q++)
        {
            for (int p = 0; p < side * side; p++)
            {
                points[p] = m[p * pairs + q];
            }
            for (int i = 0; i < side; i++)
            {
                var r = points.Slice(i * side, side);
                DownScalar(four, r[0], r[1], r[2], r[3], four ? r[4] : 0, four ? r[5] : 0, t, i * 3, 1);
            }
            for (int k = 0; k < 3; k++)
            {
                DownScalar(four, t[k], t[3 + k], t[6 + k], t[9 + k], four ? t[12 + k] : 0, four ? t[15 + k] : 0, o, k, 3);
            }
            for (int k = 0; k < 9; k++)
            {
                dw[k * pairs + q] += o[k];
            }
        }
    }

    // Gᵀ·m: F(4×4)'s G as in TransformWeights4 (m4, m5 unused for F(2×2), whose G [4, 3] has rows
    // (1, 0, 0), ½(1, 1, 1), ½(1, −1, 1), (0, 0, 1)).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Down(bool four, Vector256<float> m0, Vector256<float> m1, Vector256<float> m2, Vector256<float> m3, Vector256<float> m4, Vector256<float> m5, Vector256<float>* o, int stride)
    {
        if (four)
        {
            var sum12 = m1 + m2;
            var sum34 = m3 + m4;
            o[0] = m0 * Quarter - sum12 * Sixth + sum34 * TwentyFourth;
            o[stride] = (m2 - m1) * Sixth + (m3 - m4) * Twelfth;
            o[2 * stride] = (sum34 - sum12) * Sixth + m5;
        }
        else
        {
            var half = (m1 + m2) * 0.5f;
            o[0] = m0 + half;
            o[stride] = (m1 - m2) * 0.5f;
            o[2 * stride] = half + m3;
        }
    }

    private static void DownScalar(bool four, float m0, float m1, float m2, float m3, float m4, float m5, Span<float> o, int at, int stride)
    {
        if (four)
        {
            float sum12 = m1 + m2;
            float sum34 = m3 + m4;
            o[at] = m0 * Quarter - sum12 * Sixth + sum34 * TwentyFourth;
            o[at + stride] = (m2 - m1) * Sixth + (m3 - m4) * Twelfth;
            o[at + 2 * stride] = (sum34 - sum12) * Sixth + m5;
        }
        else
        {
            float half = (m1 + m2) * 0.5f;
            o[at] = m0 + half;
            o[at + stride] = (m1 - m2) * 0.5f;
            o[at + 2 * stride] = half + m3;
        }
    }

    private static void CheckKernelGradient(int mLength, int pairs, bool four, int first, int count, int dwLength)
    {
        int points = four ? Winograd4.Points : Winograd.Points;
        if (first < 0 || count < 0 || first + count > pairs || mLength < (long)points * pairs || dwLength < 9L * pairs)
        {
            throw new ArgumentException($"Pairs [{first}, {first + count}) of {pairs}, products of {mLength} and kernel gradient of {dwLength} values.");
        }
    }

    /// <summary>
    /// The input gradient of F(4×4, 3×3) in the transformed domain: with the forward's V = Bᵀ·d·B per
    /// tile, dx += B·dV·Bᵀ of every tile's 36 points dV, added into the 6×6 window the tile was read
    /// from (rows 4·ty − <paramref name="top"/>.., columns 4·tx − <paramref name="left"/>..: the
    /// forward's zero border shifts the windows), the parts outside the image dropped. Tiles are
    /// added in row-major order, so the sums do not depend on the caller's threads.
    /// </summary>
    // dv: [36][tiles, C] (rows firstTile.., matrix stride pointStride) → dx: [H, W, C] (accumulated)
    public static void AccumulateInputGradient4(ReadOnlySpan<float> dv, int firstTile, int pointStride, int tileRows, int tileColumns, int channels, int top, int left, Span<float> dx, int height, int width)
    {
        CheckInputGradient(dv.Length, firstTile, pointStride, tileRows, tileColumns, channels, dx.Length, height, width);
        if (Vector512.IsHardwareAccelerated && channels % 16 == 0)
        {
            AccumulateInputGradient4<Lanes512>(dv, firstTile, pointStride, tileRows, tileColumns, channels, top, left, dx, height, width);
        }
        else if (Vector256.IsHardwareAccelerated && channels % 8 == 0)
        {
            AccumulateInputGradient4<Lanes256>(dv, firstTile, pointStride, tileRows, tileColumns, channels, top, left, dx, height, width);
        }
        else
        {
            AccumulateInputGradient4Scalar(dv, firstTile, pointStride, tileRows, tileColumns, channels, top, left, dx, height, width);
        }
    }

    private static void AccumulateInputGradient4<T>(ReadOnlySpan<float> dv, int firstTile, int pointStride, int tileRows, int tileColumns, int channels, int top, int left, Span<float> dx, int height, int width) where T : unmanaged, ILanes<T>
    {
        var t = stackalloc T[36];
        var column = stackalloc T[6];
        fixed (float* pv = dv, pdx = dx)
        {
            for (int ty = 0; ty < tileRows; ty++)
            {
                for (int tx = 0; tx < tileColumns; tx++)
                {
                    float* src = pv + (long)(firstTile + ty * tileColumns + tx) * channels;
                    int y0 = 4 * ty - top, x0 = 4 * tx - left;
                    for (int c = 0; c < channels; c += T.Count)
                    {
                        // ·Bᵀ along each row of dV (the forward's ·B), then B· down each column.
                        for (int i = 0; i < 6; i++)
                        {
                            float* r = src + (long)(i * 6) * pointStride + c;
                            Down(T.Load(r), T.Load(r + pointStride), T.Load(r + 2 * pointStride), T.Load(r + 3 * pointStride),
                                T.Load(r + 4 * pointStride), T.Load(r + 5 * pointStride), t + i * 6, 1);
                        }
                        for (int j = 0; j < 6; j++)
                        {
                            int xx = x0 + j;
                            if ((uint)xx >= (uint)width)
                            {
                                continue;
                            }
                            Down(t[j], t[6 + j], t[12 + j], t[18 + j], t[24 + j], t[30 + j], column, 1);
                            for (int i = 0; i < 6; i++)
                            {
                                int yy = y0 + i;
                                if ((uint)yy < (uint)height)
                                {
                                    float* o = pdx + ((long)yy * width + xx) * channels + c;
                                    T.Store(T.Load(o) + column[i], o);
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    // The adjoint of the forward's Bᵀ along one axis: the six values a point row or column of dV
    // sends back to the six inputs, d_k = Σ_i Bᵀ[i, k]·o_i with Bᵀ = [4 0 −5 0 1 0; 0 −4 −4 1 1 0;
    // 0 4 −4 −1 1 0; 0 −2 −1 2 1 0; 0 2 −1 −2 1 0; 0 4 0 −5 0 1].
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Down<T>(T o0, T o1, T o2, T o3, T o4, T o5, T* d, int stride) where T : unmanaged, ILanes<T>
    {
        var four = T.Create(4f);
        var five = T.Create(5f);
        var two = T.Create(2f);
        var sum12 = o1 + o2;
        var sum34 = o3 + o4;
        d[0] = four * o0;
        d[stride] = four * (o2 - o1 + o5) + two * (o4 - o3);
        d[2 * stride] = -(five * o0) - four * sum12 - sum34;
        d[3 * stride] = (o1 - o2) + two * (o3 - o4) - five * o5;
        d[4 * stride] = o0 + sum12 + sum34;
        d[5 * stride] = o5;
    }

    private static void DownScalar(float o0, float o1, float o2, float o3, float o4, float o5, Span<float> d, int at, int stride)
    {
        float sum12 = o1 + o2;
        float sum34 = o3 + o4;
        d[at] = 4f * o0;
        d[at + stride] = 4f * (o2 - o1 + o5) + 2f * (o4 - o3);
        d[at + 2 * stride] = -(5f * o0) - 4f * sum12 - sum34;
        d[at + 3 * stride] = (o1 - o2) + 2f * (o3 - o4) - 5f * o5;
        d[at + 4 * stride] = o0 + sum12 + sum34;
        d[at + 5 * stride] = o5;
    }

    /// <summary>The scalar twin of <see cref="AccumulateInputGradient4"/>: the same operations in the same order, one channel at a time.</summary>
    public static void AccumulateInputGradient4Scalar(ReadOnlySpan<float> dv, int firstTile, int pointStride, int tileRows, int tileColumns, int channels, int top, int left, Span<float> dx, int height, int width)
    {
        CheckInputGradient(dv.Length, firstTile, pointStride, tileRows, tileColumns, channels, dx.Length, height, width);
        Span<float> t = stackalloc float[36];
        Span<float> column = stackalloc float[6];
        for (int ty = 0; ty < tileRows; ty++)
        {
            for (int tx = 0; tx < tileColumns; tx++)
            {
                int at = (firstTile + ty * tileColumns + tx) * channels;
                int y0 = 4 * ty - top, x0 = 4 * tx - left;
                for (int c = 0; c < channels; c++)
                {
                    for (int i = 0; i < 6; i++)
                    {
                        int r = i * 6 * pointStride + at + c;
                        DownScalar(dv[r], dv[r + pointStride], dv[r + 2 * pointStride], dv[r + 3 * pointStride], dv[r + 4 * pointStride], dv[r + 5 * pointStride], t, i * 6, 1);
                    }
                    for (int j = 0; j < 6; j++)
                    {
                        int xx = x0 + j;
                        if ((uint)xx >= (uint)width)
                        {
                            continue;
                        }
                        DownScalar(t[j], t[6 + j], t[12 + j], t[18 + j], t[24 + j], t[30 + j], column, 0, 1);
                        for (int i = 0; i < 6; i++)
                        {
                            int yy = y0 + i;
                            if ((uint)yy < (uint)height)
                            {
                                dx[(yy * width + xx) * channels + c] += column[i];
                            }
                        }
                    }
                }
            }
        }
    }

    private static void CheckInputGradient(int dvLength, int firstTile, int pointStride, int tileRows, int tileColumns, int channels, int dxLength, int height, int width)
    {
        long tilesEnd = (long)(firstTile + tileRows * tileColumns) * channels;
        if (firstTile < 0 || tileRows < 0 || tileColumns < 0 || channels < 1 || pointStride < tilesEnd || dvLength < 35L * pointStride + tilesEnd || dxLength < (long)height * width * channels)
        {
            throw new ArgumentException($"Input gradient of {tileRows}×{tileColumns} tiles from {firstTile} of {channels} channels (point stride {pointStride}, {dvLength} values) into {height}×{width} ({dxLength} values).");
        }
    }
}
