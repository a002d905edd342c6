using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Convnet.Kernels;

/// <summary>
/// Winograd's minimal filtering F(2×2, 3×3) for 3×3 stride-1 "valid" convolutions over channels-last
/// images (Lavin and Gray, "Fast Algorithms for Convolutional Neural Networks", CVPR 2016): each 2×2
/// block of outputs ("tile") comes from a 4×4 block of inputs as Y = Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A, so
/// the multiplies of a tile drop from 36 to 16 per (input, output) channel pair. Summed over the
/// input channels, the 16 elementwise products become 16 independent matrix products
/// M[ξ] = V[ξ]·U[ξ] (tiles × C by C × F), which <see cref="Gemm"/> runs. Inference only: the results
/// differ from the direct sum in the last bits (a few units in 1e-7 relative).
/// </summary>
public static unsafe class Winograd
{
    /// <summary>Elements of a transformed 4×4 tile: 16 products ξ per channel pair.</summary>
    public const int Points = 16;

    /// <summary>
    /// The distance between two of the 16 matrices holding <paramref name="values"/> each: rounded up
    /// to an odd number of 64-byte lines, so that the 16 rows a transform reads or writes at once
    /// fall on 16 different L1 sets (at a multiple of 2 or 4 KB they would crowd into one or two
    /// sets and evict each other: the input transform ran 2× slower).
    /// </summary>
    public static int PointStride(int values)
    {
        int lines = (values + 15) / 16;
        return (lines % 2 == 0 ? lines + 1 : lines) * 16;
    }

    /// <summary>
    /// Tiles of an output of <paramref name="outHeight"/> × <paramref name="outWidth"/> pixels: ⌈h/2⌉ × ⌈w/2⌉.
    /// </summary>
    public static (int Rows, int Columns) Tiles(int outHeight, int outWidth) => ((outHeight + 1) / 2, (outWidth + 1) / 2);

    /// <summary>U = G·g·Gᵀ for every (input, output) channel pair, laid out as 16 matrices [C, F] (the b of each product).</summary>
    // w: [3, 3, C, F] (our kernel layout) → u: [16, C, F]
    public static void TransformWeights(ReadOnlySpan<float> w, int channels, int filters, Span<float> u)
    {
        int cf = channels * filters;
        Span<float> g = stackalloc float[9];
        Span<float> t = stackalloc float[12];
        for (int p = 0; p < cf; p++)
        {
            for (int i = 0; i < 9; i++)
            {
                g[i] = w[i * cf + p];
            }
            // t = G·g: [4, 3]
            for (int j = 0; j < 3; j++)
            {
                float g0 = g[j], g1 = g[3 + j], g2 = g[6 + j];
                t[j] = g0;
                t[3 + j] = 0.5f * (g0 + g1 + g2);
                t[6 + j] = 0.5f * (g0 - g1 + g2);
                t[9 + j] = g2;
            }
            // u = t·Gᵀ: [4, 4]
            for (int i = 0; i < 4; i++)
            {
                float t0 = t[i * 3], t1 = t[i * 3 + 1], t2 = t[i * 3 + 2];
                u[(i * 4) * cf + p] = t0;
                u[(i * 4 + 1) * cf + p] = 0.5f * (t0 + t1 + t2);
                u[(i * 4 + 2) * cf + p] = 0.5f * (t0 - t1 + t2);
                u[(i * 4 + 3) * cf + p] = t2;
            }
        }
    }

    /// <summary>
    /// V = Bᵀ·d·B of every tile of one image, written as rows <paramref name="firstTile"/>.. of the
    /// 16 matrices [tiles, C] (row stride C, matrix stride <paramref name="pointStride"/>); inputs
    /// past the image's edge read as 0.
    /// </summary>
    // x: [H, W, C] → v: [16][tiles, C]
    public static void TransformInput(ReadOnlySpan<float> x, int height, int width, int channels, int tileRows, int tileColumns, Span<float> v, int firstTile, int pointStride)
    {
        if (!Vector256.IsHardwareAccelerated || channels % Vector256<float>.Count != 0)
        {
            TransformInputScalar(x, height, width, channels, tileRows, tileColumns, v, firstTile, pointStride);
            return;
        }
        CheckInput(x, height, width, channels, tileRows, tileColumns, v, firstTile, pointStride);
        fixed (float* px = x, pv = v)
        {
            TransformInputBlocks(px, height, width, channels, tileRows, tileColumns, pv, firstTile, pointStride);
        }
    }

    private static unsafe void TransformInputBlocks(float* x, int height, int width, int channels, int tileRows, int tileColumns, float* v, int firstTile, int pointStride)
    {
        long row = (long)width * channels;
        float* edge = stackalloc float[16 * 8];
        for (int ty = 0; ty < tileRows; ty++)
        {
            for (int tx = 0; tx < tileColumns; tx++)
            {
                int y0 = 2 * ty, x0 = 2 * tx;
                bool inside = y0 + 4 <= height && x0 + 4 <= width;
                float* dst = v + (long)(firstTile + ty * tileColumns + tx) * channels;
                for (int c = 0; c < channels; c += 8)
                {
                    // The 4×4 block's rows r0..r3 (four pixels each, channels-last); at the image's edge a
                    // copy with zeros where the block reaches past it.
                    float* r0 = x + (y0 * width + x0) * (long)channels + c;
                    long step = channels;
                    long next = row;
                    if (!inside)
                    {
                        for (int i = 0; i < 4; i++)
                        {
                            for (int j = 0; j < 4; j++)
                            {
                                int yy = y0 + i, xx = x0 + j;
                                var value = yy < height && xx < width ? Vector256.Load(x + (yy * width + xx) * (long)channels + c) : Vector256<float>.Zero;
                                value.Store(edge + (i * 4 + j) * 8);
                            }
                        }
                        r0 = edge;
                        step = 8;
                        next = 32;
                    }
                    // Bᵀ·d (rows), then ·B (columns): Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1].
                    float* r1 = r0 + next, r2 = r1 + next, r3 = r2 + next;
                    var t00 = Vector256.Load(r0) - Vector256.Load(r2);
                    var t01 = Vector256.Load(r0 + step) - Vector256.Load(r2 + step);
                    var t02 = Vector256.Load(r0 + 2 * step) - Vector256.Load(r2 + 2 * step);
                    var t03 = Vector256.Load(r0 + 3 * step) - Vector256.Load(r2 + 3 * step);
                    var t10 = Vector256.Load(r1) + Vector256.Load(r2);
                    var t11 = Vector256.Load(r1 + step) + Vector256.Load(r2 + step);
                    var t12 = Vector256.Load(r1 + 2 * step) + Vector256.Load(r2 + 2 * step);
                    var t13 = Vector256.Load(r1 + 3 * step) + Vector256.Load(r2 + 3 * step);
                    var t20 = Vector256.Load(r2) - Vector256.Load(r1);
                    var t21 = Vector256.Load(r2 + step) - Vector256.Load(r1 + step);
                    var t22 = Vector256.Load(r2 + 2 * step) - Vector256.Load(r1 + 2 * step);
                    var t23 = Vector256.Load(r2 + 3 * step) - Vector256.Load(r1 + 3 * step);
                    var t30 = Vector256.Load(r1) - Vector256.Load(r3);
                    var t31 = Vector256.Load(r1 + step) - Vector256.Load(r3 + step);
                    var t32 = Vector256.Load(r1 + 2 * step) - Vector256.Load(r3 + 2 * step);
                    var t33 = Vector256.Load(r1 + 3 * step) - Vector256.Load(r3 + 3 * step);
                    float* o = dst + c;
                    Columns(t00, t01, t02, t03, o, pointStride);
                    Columns(t10, t11, t12, t13, o + 4L * pointStride, pointStride);
                    Columns(t20, t21, t22, t23, o + 8L * pointStride, pointStride);
                    Columns(t30, t31, t32, t33, o + 12L * pointStride, pointStride);
                }
            }
        }
    }

    // One row of Bᵀ·d times B, stored at points o, o + stride, o + 2·stride, o + 3·stride.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Columns(Vector256<float> t0, Vector256<float> t1, Vector256<float> t2, Vector256<float> t3, float* o, int stride)
    {
        (t0 - t2).Store(o);
        (t1 + t2).Store(o + stride);
        (t2 - t1).Store(o + 2L * stride);
        (t1 - t3).Store(o + 3L * stride);
    }

    /// <summary>The scalar twin of <see cref="TransformInput"/>: the same operations in the same order, one channel at a time.</summary>
    public static void TransformInputScalar(ReadOnlySpan<float> x, int height, int width, int channels, int tileRows, int tileColumns, Span<float> v, int firstTile, int pointStride)
    {
        CheckInput(x, height, width, channels, tileRows, tileColumns, v, firstTile, pointStride);
        Span<float> d = stackalloc float[16];
        for (int ty = 0; ty < tileRows; ty++)
        {
            for (int tx = 0; tx < tileColumns; tx++)
            {
                int row = (firstTile + ty * tileColumns + tx) * channels;
                for (int c = 0; c < channels; c++)
                {
                    for (int i = 0; i < 4; i++)
                    {
                        for (int j = 0; j < 4; j++)
                        {
                            int yy = 2 * ty + i, xx = 2 * tx + j;
                            d[i * 4 + j] = yy < height && xx < width ? x[(yy * width + xx) * channels + c] : 0;
                        }
                    }
                    for (int j = 0; j < 4; j++)
                    {
                        float d0 = d[j], d1 = d[4 + j], d2 = d[8 + j], d3 = d[12 + j];
                        d[j] = d0 - d2;
                        d[4 + j] = d1 + d2;
                        d[8 + j] = d2 - d1;
                        d[12 + j] = d1 - d3;
                    }
                    for (int i = 0; i < 4; i++)
                    {
                        float t0 = d[i * 4], t1 = d[i * 4 + 1], t2 = d[i * 4 + 2], t3 = d[i * 4 + 3];
                        v[(i * 4) * pointStride + row + c] = t0 - t2;
                        v[(i * 4 + 1) * pointStride + row + c] = t1 + t2;
                        v[(i * 4 + 2) * pointStride + row + c] = t2 - t1;
                        v[(i * 4 + 3) * pointStride + row + c] = t1 - t3;
                    }
                }
            }
        }
    }

    /// <summary>
    /// Y = Aᵀ·m·A of every tile of one image (rows <paramref name="firstTile"/>.. of the 16 products
    /// [tiles, F]), then the epilogue of <paramref name="epilogue"/> on each output: + bias, ReLU,
    /// the per-channel affine (scale, shift), and with <see cref="ConvEpilogue.Pool2"/> the max of
    /// each 2×2 tile, written as one pixel of the pooled map [tileRows, tileColumns, F]; else the
    /// outputs inside [outHeight, outWidth, F].
    /// </summary>
    // m: [16][tiles, F] → y: [OH, OW, F], or [OH/2, OW/2, F] pooled
    public static void TransformOutput(ReadOnlySpan<float> m, int firstTile, int pointStride, int tileRows, int tileColumns, int filters, in ConvEpilogue epilogue, Span<float> y, int outHeight, int outWidth)
        => TransformOutput(m, firstTile, pointStride, tileRows, tileColumns, filters, 0, filters, epilogue, y, outHeight, outWidth);

    /// <summary>
    /// <see cref="TransformOutput(ReadOnlySpan{float}, int, int, int, int, int, in ConvEpilogue, Span{float}, int, int)"/>
    /// for the filters [<paramref name="firstFilter"/>, <paramref name="endFilter"/>) only, the same
    /// bits; y's other channels untouched (the filters of one image split over threads).
    /// </summary>
    // m: [16][tiles, F] → y: [OH, OW, F] (or pooled), channels firstFilter..endFilter
    public static void TransformOutput(ReadOnlySpan<float> m, int firstTile, int pointStride, int tileRows, int tileColumns, int filters, int firstFilter, int endFilter, in ConvEpilogue epilogue, Span<float> y, int outHeight, int outWidth)
    {
        if (!Vector256.IsHardwareAccelerated || filters % Vector256<float>.Count != 0 || firstFilter % Vector256<float>.Count != 0 || endFilter % Vector256<float>.Count != 0)
        {
            TransformOutputScalar(m, firstTile, pointStride, tileRows, tileColumns, filters, firstFilter, endFilter, epilogue, y, outHeight, outWidth);
            return;
        }
        CheckOutput(m, firstTile, pointStride, tileRows, tileColumns, filters, firstFilter, endFilter, epilogue, y, outHeight, outWidth);
        ref float pm = ref MemoryMarshal.GetReference(m);
        ref float py = ref MemoryMarshal.GetReference(y);
        ref float pBias = ref MemoryMarshal.GetReference(epilogue.Bias);
        ref float pScale = ref MemoryMarshal.GetReference(epilogue.Scale);
        ref float pShift = ref MemoryMarshal.GetReference(epilogue.Shift);
        bool affine = !epilogue.Scale.IsEmpty;
        bool relu = epilogue.Relu;
        bool pool = epilogue.Pool2;
        for (int ty = 0; ty < tileRows; ty++)
        {
            for (int tx = 0; tx < tileColumns; tx++)
            {
                nuint row = (nuint)((firstTile + ty * tileColumns + tx) * filters);
                for (int f = firstFilter; f < endFilter; f += Vector256<float>.Count)
                {
                    nuint at = row + (nuint)f;
                    // s = Aᵀ·m (rows), Aᵀ = [1 1 1 0; 0 1 −1 −1]; then y = s·A (columns).
                    var s00 = Load(ref pm, at, 0, pointStride) + Load(ref pm, at, 4, pointStride) + Load(ref pm, at, 8, pointStride);
                    var s01 = Load(ref pm, at, 1, pointStride) + Load(ref pm, at, 5, pointStride) + Load(ref pm, at, 9, pointStride);
                    var s02 = Load(ref pm, at, 2, pointStride) + Load(ref pm, at, 6, pointStride) + Load(ref pm, at, 10, pointStride);
                    var s03 = Load(ref pm, at, 3, pointStride) + Load(ref pm, at, 7, pointStride) + Load(ref pm, at, 11, pointStride);
                    var s10 = Load(ref pm, at, 4, pointStride) - Load(ref pm, at, 8, pointStride) - Load(ref pm, at, 12, pointStride);
                    var s11 = Load(ref pm, at, 5, pointStride) - Load(ref pm, at, 9, pointStride) - Load(ref pm, at, 13, pointStride);
                    var s12 = Load(ref pm, at, 6, pointStride) - Load(ref pm, at, 10, pointStride) - Load(ref pm, at, 14, pointStride);
                    var s13 = Load(ref pm, at, 7, pointStride) - Load(ref pm, at, 11, pointStride) - Load(ref pm, at, 15, pointStride);
                    var bias = Vector256.LoadUnsafe(ref pBias, (nuint)f);
                    var y00 = s00 + s01 + s02 + bias;
                    var y01 = s01 - s02 - s03 + bias;
                    var y10 = s10 + s11 + s12 + bias;
                    var y11 = s11 - s12 - s13 + bias;
                    if (relu)
                    {
                        y00 = Vector256.Max(y00, Vector256<float>.Zero);
                        y01 = Vector256.Max(y01, Vector256<float>.Zero);
                        y10 = Vector256.Max(y10, Vector256<float>.Zero);
                        y11 = Vector256.Max(y11, Vector256<float>.Zero);
                    }
                    if (affine)
                    {
                        var scale = Vector256.LoadUnsafe(ref pScale, (nuint)f);
                        var shift = Vector256.LoadUnsafe(ref pShift, (nuint)f);
                        y00 = y00 * scale + shift;
                        y01 = y01 * scale + shift;
                        y10 = y10 * scale + shift;
                        y11 = y11 * scale + shift;
                    }
                    if (pool)
                    {
                        Vector256.Max(Vector256.Max(y00, y01), Vector256.Max(y10, y11)).StoreUnsafe(ref py, (nuint)((ty * tileColumns + tx) * filters + f));
                        continue;
                    }
                    int oy = 2 * ty, ox = 2 * tx;
                    y00.StoreUnsafe(ref py, (nuint)((oy * outWidth + ox) * filters + f));
                    if (ox + 1 < outWidth)
                    {
                        y01.StoreUnsafe(ref py, (nuint)((oy * outWidth + ox + 1) * filters + f));
                    }
                    if (oy + 1 < outHeight)
                    {
                        y10.StoreUnsafe(ref py, (nuint)(((oy + 1) * outWidth + ox) * filters + f));
                        if (ox + 1 < outWidth)
                        {
                            y11.StoreUnsafe(ref py, (nuint)(((oy + 1) * outWidth + ox + 1) * filters + f));
                        }
                    }
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Load(ref float m, nuint at, int point, int pointStride) => Vector256.LoadUnsafe(ref m, at + (nuint)(point * pointStride));

    /// <summary>The scalar twin of <see cref="TransformOutput(ReadOnlySpan{float}, int, int, int, int, int, in ConvEpilogue, Span{float}, int, int)"/>: the same operations in the same order, one channel at a time.</summary>
    public static void TransformOutputScalar(ReadOnlySpan<float> m, int firstTile, int pointStride, int tileRows, int tileColumns, int filters, in ConvEpilogue epilogue, Span<float> y, int outHeight, int outWidth)
        => TransformOutputScalar(m, firstTile, pointStride, tileRows, tileColumns, filters, 0, filters, epilogue, y, outHeight, outWidth);

    /// <summary>The scalar twin of the filter-range <see cref="TransformOutput(ReadOnlySpan{float}, int, int, int, int, int, int, int, in ConvEpilogue, Span{float}, int, int)"/>.</summary>
    public static void TransformOutputScalar(ReadOnlySpan<float> m, int firstTile, int pointStride, int tileRows, int tileColumns, int filters, int firstFilter, int endFilter, in ConvEpilogue epilogue, Span<float> y, int outHeight, int outWidth)
    {
        CheckOutput(m, firstTile, pointStride, tileRows, tileColumns, filters, firstFilter, endFilter, epilogue, y, outHeight, outWidth);
        Span<float> q = stackalloc float[16];
        for (int ty = 0; ty < tileRows; ty++)
        {
            for (int tx = 0; tx < tileColumns; tx++)
            {
                int row = (firstTile + ty * tileColumns + tx) * filters;
                for (int f = firstFilter; f < endFilter; f++)
                {
                    for (int p = 0; p < 16; p++)
                    {
                        q[p] = m[p * pointStride + row + f];
                    }
                    float s00 = q[0] + q[4] + q[8], s01 = q[1] + q[5] + q[9], s02 = q[2] + q[6] + q[10], s03 = q[3] + q[7] + q[11];
                    float s10 = q[4] - q[8] - q[12], s11 = q[5] - q[9] - q[13], s12 = q[6] - q[10] - q[14], s13 = q[7] - q[11] - q[15];
                    float b = epilogue.Bias[f];
                    float y00 = epilogue.Apply(s00 + s01 + s02 + b, f);
                    float y01 = epilogue.Apply(s01 - s02 - s03 + b, f);
                    float y10 = epilogue.Apply(s10 + s11 + s12 + b, f);
                    float y11 = epilogue.Apply(s11 - s12 - s13 + b, f);
                    if (epilogue.Pool2)
                    {
                        y[(ty * tileColumns + tx) * filters + f] = MathF.Max(MathF.Max(y00, y01), MathF.Max(y10, y11));
                        continue;
                    }
                    int oy = 2 * ty, ox = 2 * tx;
                    y[(oy * outWidth + ox) * filters + f] = y00;
                    if (ox + 1 < outWidth)
                    {
                        y[(oy * outWidth + ox + 1) * filters + f] = y01;
                    }
                    if (oy + 1 < outHeight)
                    {
                        y[((oy + 1) * outWidth + ox) * filters + f] = y10;
                        if (ox + 1 < outWidth)
                        {
                            y[((oy + 1) * outWidth + ox + 1) * filters + f] = y11;
                        }
                    }
                }
            }
        }
    }

    private static void CheckInput(ReadOnlySpan<float> x, int height, int width, int channels, int tileRows, int tileColumns, Span<float> v, int firstTile, int pointStride)
    {
        if (x.Length < height * width * channels)
        {
            throw new ArgumentException($"Input of {x.Length} values is smaller than {height}×{width}×{channels}.", nameof(x));
        }
        if (v.Length < 15L * pointStride + (long)(firstTile + tileRows * tileColumns) * channels)
        {
            throw new ArgumentException($"Transformed input of {v.Length} values is too small for tiles up to {firstTile + tileRows * tileColumns} of {channels} channels.", nameof(v));
        }
    }

    private static void CheckOutput(ReadOnlySpan<float> m, int firstTile, int pointStride, int tileRows, int tileColumns, int filters, int firstFilter, int endFilter, in ConvEpilogue epilogue, Span<float> y, int outHeight, int outWidth)
    {
        if (firstFilter < 0 || firstFilter > endFilter || endFilter > filters)
        {
            throw new ArgumentOutOfRangeException(nameof(endFilter), $"Filters {firstFilter}..{endFilter} of {filters}.");
        }
        if (m.Length < 15L * pointStride + (long)(firstTile + tileRows * tileColumns) * filters)
        {
            throw new ArgumentException($"Products of {m.Length} values are too small for tiles up to {firstTile + tileRows * tileColumns} of {filters} filters.", nameof(m));
        }
        epilogue.Check(filters);
        long needed = epilogue.Pool2 ? (long)tileRows * tileColumns * filters : (long)outHeight * outWidth * filters;
        if (y.Length < needed || (!epilogue.Pool2 && (outHeight > 2 * tileRows || outWidth > 2 * tileColumns)))
        {
            throw new ArgumentException($"Output of {y.Length} values does not fit {outHeight}×{outWidth}×{filters} from {tileRows}×{tileColumns} tiles.", nameof(y));
        }
    }
}
