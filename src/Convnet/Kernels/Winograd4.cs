using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Convnet.Kernels;

/// <summary>
/// Winograd's F(4×4, 3×3) (Lavin and Gray, CVPR 2016, with the points 0, ±1, ±2, ∞): each 4×4
/// block of outputs from a 6×6 block of inputs, 36 products per (input, output) channel pair where
/// the direct sum takes 144 (F(2×2, 3×3): 64 for the same outputs). The layout and the products are
/// <see cref="Winograd"/>'s with 36 points; the larger transforms lose a few more bits (about 1e-6
/// relative on a 3×3×64 sum). Used by the inference plan and by training's <c>WinogradConvolution</c>,
/// without a fused pool. The transforms take 16 channels at a time where 512-bit vectors run (AVX-512), 8 elsewhere (<see cref="ILanes{T}"/>).
/// </summary>
public static unsafe class Winograd4
{
    /// <summary>Elements of a transformed 6×6 tile.</summary>
    public const int Points = 36;

    /// <summary>Tiles of an output of <paramref name="outHeight"/> × <paramref name="outWidth"/> pixels: ⌈h/4⌉ × ⌈w/4⌉.</summary>
    public static (int Rows, int Columns) Tiles(int outHeight, int outWidth) => ((outHeight + 3) / 4, (outWidth + 3) / 4);

    // G [6, 3]: u = G·g·Gᵀ.
    private static readonly double[] G =
    [
        1 / 4.0, 0, 0,
        -1 / 6.0, -1 / 6.0, -1 / 6.0,
        -1 / 6.0, 1 / 6.0, -1 / 6.0,
        1 / 24.0, 1 / 12.0, 1 / 6.0,
        1 / 24.0, -1 / 12.0, 1 / 6.0,
        0, 0, 1,
    ];

    /// <summary>U = G·g·Gᵀ (in double, rounded once) for every channel pair, as 36 matrices [C, F].</summary>
    // w: [3, 3, C, F] → u: [36, C, F]
    public static void TransformWeights(ReadOnlySpan<float> w, int channels, int filters, Span<float> u)
    {
        int cf = channels * filters;
        Span<double> t = stackalloc double[18];
        for (int p = 0; p < cf; p++)
        {
            for (int i = 0; i < 6; i++)
            {
                for (int j = 0; j < 3; j++)
                {
                    t[i * 3 + j] = G[i * 3] * w[j * cf + p] + G[i * 3 + 1] * w[(3 + j) * cf + p] + G[i * 3 + 2] * w[(6 + j) * cf + p];
                }
            }
            for (int i = 0; i < 6; i++)
            {
                for (int j = 0; j < 6; j++)
                {
                    u[(i * 6 + j) * cf + p] = (float)(t[i * 3] * G[j * 3] + t[i * 3 + 1] * G[j * 3 + 1] + t[i * 3 + 2] * G[j * 3 + 2]);
                }
            }
        }
    }

    // Bᵀ·d of six values: Bᵀ = [4 0 −5 0 1 0; 0 −4 −4 1 1 0; 0 4 −4 −1 1 0; 0 −2 −1 2 1 0; 0 2 −1 −2 1 0; 0 4 0 −5 0 1].
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void In<T>(T d0, T d1, T d2, T d3, T d4, T d5, T* v, int stride) where T : unmanaged, ILanes<T>
    {
        var four = T.Create(4f);
        var five = T.Create(5f);
        var two = T.Create(2f);
        v[0] = four * d0 - five * d2 + d4;
        v[stride] = (d3 + d4) - four * (d1 + d2);
        v[2 * stride] = (d4 - d3) + four * (d1 - d2);
        v[3 * stride] = (d4 - d2) + two * (d3 - d1);
        v[4 * stride] = (d4 - d2) - two * (d3 - d1);
        v[5 * stride] = four * d1 - five * d3 + d5;
    }

    private static void InScalar(float d0, float d1, float d2, float d3, float d4, float d5, Span<float> v, int at, int stride)
    {
        v[at] = 4f * d0 - 5f * d2 + d4;
        v[at + stride] = (d3 + d4) - 4f * (d1 + d2);
        v[at + 2 * stride] = (d4 - d3) + 4f * (d1 - d2);
        v[at + 3 * stride] = (d4 - d2) + 2f * (d3 - d1);
        v[at + 4 * stride] = (d4 - d2) - 2f * (d3 - d1);
        v[at + 5 * stride] = 4f * d1 - 5f * d3 + d5;
    }

    /// <summary>V = Bᵀ·d·B of every tile of one image into rows <paramref name="firstTile"/>.. of the 36 matrices [tiles, C]; inputs past the edge read as 0.</summary>
    // x: [H, W, C] → v: [36][tiles, C]
    public static void TransformInput(ReadOnlySpan<float> x, int height, int width, int channels, int tileRows, int tileColumns, Span<float> v, int firstTile, int pointStride)
    {
        Check(x.Length, height, width, channels, tileRows, tileColumns, v.Length, firstTile, pointStride);
        if (Vector512.IsHardwareAccelerated && channels % 16 == 0)
        {
            TransformInput<Lanes512>(x, height, width, channels, tileRows, tileColumns, v, firstTile, pointStride);
        }
        else if (Vector256.IsHardwareAccelerated && channels % 8 == 0)
        {
            TransformInput<Lanes256>(x, height, width, channels, tileRows, tileColumns, v, firstTile, pointStride);
        }
        else
        {
            TransformInputScalar(x, height, width, channels, tileRows, tileColumns, v, firstTile, pointStride);
        }
    }

    private static void TransformInput<T>(ReadOnlySpan<float> x, int height, int width, int channels, int tileRows, int tileColumns, Span<float> v, int firstTile, int pointStride) where T : unmanaged, ILanes<T>
    {
        var t = stackalloc T[36];
        int lanes = T.Count;
        float* edge = stackalloc float[36 * lanes];
        long row = (long)width * channels;
        fixed (float* px = x, pv = v)
        {
            for (int ty = 0; ty < tileRows; ty++)
            {
                for (int tx = 0; tx < tileColumns; tx++)
                {
                    int y0 = 4 * ty, x0 = 4 * tx;
                    bool inside = y0 + 6 <= height && x0 + 6 <= width;
                    float* dst = pv + (long)(firstTile + ty * tileColumns + tx) * channels;
                    for (int c = 0; c < channels; c += lanes)
                    {
                        // The 6×6 block: pixel (i, j) at d + i·next + j·step; at the image's edge a copy with zeros past it.
                        float* d = px + ((long)y0 * width + x0) * channels + c;
                        long step = channels, next = row;
                        if (!inside)
                        {
                            for (int i = 0; i < 6; i++)
                            {
                                for (int j = 0; j < 6; j++)
                                {
                                    int yy = y0 + i, xx = x0 + j;
                                    var value = yy < height && xx < width ? T.Load(px + ((long)yy * width + xx) * channels + c) : T.Create(0f);
                                    T.Store(value, edge + (i * 6 + j) * lanes);
                                }
                            }
                            d = edge;
                            step = lanes;
                            next = 6 * lanes;
                        }
                        // Bᵀ·d down each column, then ·B along each row, stored as the 36 points.
                        for (int j = 0; j < 6; j++)
                        {
                            float* col = d + j * step;
                            In(T.Load(col), T.Load(col + next), T.Load(col + 2 * next), T.Load(col + 3 * next),
                                T.Load(col + 4 * next), T.Load(col + 5 * next), t + j, 6);
                        }
                        for (int i = 0; i < 6; i++)
                        {
                            T* r = t + i * 6;
                            Store(r[0], r[1], r[2], r[3], r[4], r[5], dst + (long)(i * 6) * pointStride + c, pointStride);
                        }
                    }
                }
            }
        }
    }

    // ·B along one row of Bᵀ·d, stored at six points o, o + stride, ….
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store<T>(T d0, T d1, T d2, T d3, T d4, T d5, float* o, long stride) where T : unmanaged, ILanes<T>
    {
        var four = T.Create(4f);
        var five = T.Create(5f);
        var two = T.Create(2f);
        T.Store(four * d0 - five * d2 + d4, o);
        T.Store((d3 + d4) - four * (d1 + d2), o + stride);
        T.Store((d4 - d3) + four * (d1 - d2), o + 2 * stride);
        T.Store((d4 - d2) + two * (d3 - d1), o + 3 * stride);
        T.Store((d4 - d2) - two * (d3 - d1), o + 4 * stride);
        T.Store(four * d1 - five * d3 + d5, o + 5 * stride);
    }

    /// <summary>The scalar twin of <see cref="TransformInput"/>.</summary>
    public static void TransformInputScalar(ReadOnlySpan<float> x, int height, int width, int channels, int tileRows, int tileColumns, Span<float> v, int firstTile, int pointStride)
    {
        Check(x.Length, height, width, channels, tileRows, tileColumns, v.Length, firstTile, pointStride);
        Span<float> d = stackalloc float[36];
        Span<float> t = stackalloc float[36];
        for (int ty = 0; ty < tileRows; ty++)
        {
            for (int tx = 0; tx < tileColumns; tx++)
            {
                int row = (firstTile + ty * tileColumns + tx) * channels;
                for (int c = 0; c < channels; c++)
                {
                    for (int i = 0; i < 6; i++)
                    {
                        for (int j = 0; j < 6; j++)
                        {
                            int yy = 4 * ty + i, xx = 4 * tx + j;
                            d[i * 6 + j] = yy < height && xx < width ? x[(yy * width + xx) * channels + c] : 0;
                        }
                    }
                    for (int j = 0; j < 6; j++)
                    {
                        InScalar(d[j], d[6 + j], d[12 + j], d[18 + j], d[24 + j], d[30 + j], t, j, 6);
                    }
                    for (int i = 0; i < 6; i++)
                    {
                        InScalar(t[i * 6], t[i * 6 + 1], t[i * 6 + 2], t[i * 6 + 3], t[i * 6 + 4], t[i * 6 + 5], d, i * 6, 1);
                    }
                    for (int p = 0; p < Points; p++)
                    {
                        v[p * pointStride + row + c] = d[p];
                    }
                }
            }
        }
    }

    // Aᵀ·m of six values: Aᵀ = [1 1 1 1 1 0; 0 1 −1 2 −2 0; 0 1 1 4 4 0; 0 1 −1 8 −8 1].
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Out<T>(T m0, T m1, T m2, T m3, T m4, T m5, T* s, int stride) where T : unmanaged, ILanes<T>
    {
        var a = m1 + m2;
        var b = m1 - m2;
        var e = m3 + m4;
        var f = m3 - m4;
        s[0] = m0 + a + e;
        s[stride] = b + T.Create(2f) * f;
        s[2 * stride] = a + T.Create(4f) * e;
        s[3 * stride] = b + T.Create(8f) * f + m5;
    }

    private static void OutScalar(float m0, float m1, float m2, float m3, float m4, float m5, Span<float> s, int at, int stride)
    {
        float a = m1 + m2, b = m1 - m2, e = m3 + m4, f = m3 - m4;
        s[at] = m0 + a + e;
        s[at + stride] = b + 2f * f;
        s[at + 2 * stride] = a + 4f * e;
        s[at + 3 * stride] = b + 8f * f + m5;
    }

    /// <summary>
    /// Y = Aᵀ·m·A of every tile of one image (rows <paramref name="firstTile"/>.. of the 36 products
    /// [tiles, F]), then + bias, ReLU and the affine of <paramref name="epilogue"/> (no pool), the
    /// outputs inside [outHeight, outWidth, F] stored.
    /// </summary>
    // m: [36][tiles, F] → y: [OH, OW, F]
    public static void TransformOutput(ReadOnlySpan<float> m, int firstTile, int pointStride, int tileRows, int tileColumns, int filters, in ConvEpilogue epilogue, Span<float> y, int outHeight, int outWidth)
        => TransformOutput(m, firstTile, pointStride, tileRows, tileColumns, filters, 0, filters, epilogue, y, outHeight, outWidth);

    /// <summary>
    /// <see cref="TransformOutput(ReadOnlySpan{float}, int, int, int, int, int, in ConvEpilogue, Span{float}, int, int)"/>
    /// for the filters [<paramref name="firstFilter"/>, <paramref name="endFilter"/>) only, the same
    /// bits; y's other channels untouched (the filters of one image split over threads).
    /// </summary>
    // m: [36][tiles, F] → y: [OH, OW, F], channels firstFilter..endFilter
    public static void TransformOutput(ReadOnlySpan<float> m, int firstTile, int pointStride, int tileRows, int tileColumns, int filters, int firstFilter, int endFilter, in ConvEpilogue epilogue, Span<float> y, int outHeight, int outWidth)
    {
        CheckOutput(m.Length, firstTile, pointStride, tileRows, tileColumns, filters, firstFilter, endFilter, epilogue, y.Length, outHeight, outWidth);
        if (Vector512.IsHardwareAccelerated && filters % 16 == 0 && firstFilter % 16 == 0 && endFilter % 16 == 0)
        {
            TransformOutput<Lanes512>(m, firstTile, pointStride, tileRows, tileColumns, filters, firstFilter, endFilter, epilogue, y, outHeight, outWidth);
        }
        else if (Vector256.IsHardwareAccelerated && filters % 8 == 0 && firstFilter % 8 == 0 && endFilter % 8 == 0)
        {
            TransformOutput<Lanes256>(m, firstTile, pointStride, tileRows, tileColumns, filters, firstFilter, endFilter, epilogue, y, outHeight, outWidth);
        }
        else
        {
            TransformOutputScalar(m, firstTile, pointStride, tileRows, tileColumns, filters, firstFilter, endFilter, epilogue, y, outHeight, outWidth);
        }
    }

    private static void TransformOutput<T>(ReadOnlySpan<float> m, int firstTile, int pointStride, int tileRows, int tileColumns, int filters, int firstFilter, int endFilter, in ConvEpilogue epilogue, Span<float> y, int outHeight, int outWidth) where T : unmanaged, ILanes<T>
    {
        var q = stackalloc T[4];
        var s = stackalloc T[24];
        bool affine = !epilogue.Scale.IsEmpty;
        fixed (float* pm = m, py = y, pBias = epilogue.Bias, pScale = epilogue.Scale, pShift = epilogue.Shift)
        {
            for (int ty = 0; ty < tileRows; ty++)
            {
                for (int tx = 0; tx < tileColumns; tx++)
                {
                    float* src = pm + (long)(firstTile + ty * tileColumns + tx) * filters;
                    for (int f = firstFilter; f < endFilter; f += T.Count)
                    {
                        // Aᵀ·m down each column, read straight from the six points of the column.
                        for (int j = 0; j < 6; j++)
                        {
                            float* col = src + (long)j * pointStride + f;
                            long down = 6L * pointStride;
                            Out(T.Load(col), T.Load(col + down), T.Load(col + 2 * down), T.Load(col + 3 * down),
                                T.Load(col + 4 * down), T.Load(col + 5 * down), s + j, 6);
                        }
                        var bias = T.Load(pBias + f);
                        var scale = affine ? T.Load(pScale + f) : default;
                        var shift = affine ? T.Load(pShift + f) : default;
                        for (int r = 0; r < 4; r++)
                        {
                            int oy = 4 * ty + r;
                            if (oy >= outHeight)
                            {
                                break;
                            }
                            T* row = s + r * 6;
                            Out(row[0], row[1], row[2], row[3], row[4], row[5], q, 1);
                            for (int col = 0; col < 4; col++)
                            {
                                int ox = 4 * tx + col;
                                if (ox >= outWidth)
                                {
                                    break;
                                }
                                var v = q[col] + bias;
                                if (epilogue.Relu)
                                {
                                    v = T.Max(v, T.Create(0f));
                                }
                                if (affine)
                                {
                                    v = v * scale + shift;
                                }
                                T.Store(v, py + ((long)oy * outWidth + ox) * filters + f);
                            }
                        }
                    }
                }
            }
        }
    }

    /// <summary>The scalar twin of <see cref="TransformOutput(ReadOnlySpan{float}, int, int, int, int, int, in ConvEpilogue, Span{float}, int, int)"/>.</summary>
    public static void TransformOutputScalar(ReadOnlySpan<float> m, int firstTile, int pointStride, int tileRows, int tileColumns, int filters, in ConvEpilogue epilogue, Span<float> y, int outHeight, int outWidth)
        => TransformOutputScalar(m, firstTile, pointStride, tileRows, tileColumns, filters, 0, filters, epilogue, y, outHeight, outWidth);

    /// <summary>The scalar twin of the filter-range <see cref="TransformOutput(ReadOnlySpan{float}, int, int, int, int, int, int, int, in ConvEpilogue, Span{float}, int, int)"/>.</summary>
    public static void TransformOutputScalar(ReadOnlySpan<float> m, int firstTile, int pointStride, int tileRows, int tileColumns, int filters, int firstFilter, int endFilter, in ConvEpilogue epilogue, Span<float> y, int outHeight, int outWidth)
    {
        CheckOutput(m.Length, firstTile, pointStride, tileRows, tileColumns, filters, firstFilter, endFilter, epilogue, y.Length, outHeight, outWidth);
        Span<float> q = stackalloc float[36];
        Span<float> s = stackalloc float[24];
        Span<float> o = stackalloc float[4];
        for (int ty = 0; ty < tileRows; ty++)
        {
            for (int tx = 0; tx < tileColumns; tx++)
            {
                int row = (firstTile + ty * tileColumns + tx) * filters;
                for (int f = firstFilter; f < endFilter; f++)
                {
                    for (int p = 0; p < Points; p++)
                    {
                        q[p] = m[p * pointStride + row + f];
                    }
                    for (int j = 0; j < 6; j++)
                    {
                        OutScalar(q[j], q[6 + j], q[12 + j], q[18 + j], q[24 + j], q[30 + j], s, j, 6);
                    }
                    for (int r = 0; r < 4 && 4 * ty + r < outHeight; r++)
                    {
                        OutScalar(s[r * 6], s[r * 6 + 1], s[r * 6 + 2], s[r * 6 + 3], s[r * 6 + 4], s[r * 6 + 5], o, 0, 1);
                        for (int col = 0; col < 4 && 4 * tx + col < outWidth; col++)
                        {
                            y[((4 * ty + r) * outWidth + 4 * tx + col) * filters + f] = epilogue.Apply(o[col] + epilogue.Bias[f], f);
                        }
                    }
                }
            }
        }
    }

    private static void Check(int xLength, int height, int width, int channels, int tileRows, int tileColumns, int vLength, int firstTile, int pointStride)
    {
        if (xLength < height * width * channels)
        {
            throw new ArgumentException($"Input of {xLength} values is smaller than {height}×{width}×{channels}.");
        }
        if (vLength < (Points - 1L) * pointStride + (long)(firstTile + tileRows * tileColumns) * channels)
        {
            throw new ArgumentException($"Transformed input of {vLength} values is too small for tiles up to {firstTile + tileRows * tileColumns} of {channels} channels.");
        }
    }

    private static void CheckOutput(int mLength, int firstTile, int pointStride, int tileRows, int tileColumns, int filters, int firstFilter, int endFilter, in ConvEpilogue epilogue, int yLength, int outHeight, int outWidth)
    {
        if (firstFilter < 0 || firstFilter > endFilter || endFilter > filters)
        {
            throw new ArgumentOutOfRangeException(nameof(endFilter), $"Filters {firstFilter}..{endFilter} of {filters}.");
        }
        if (mLength < (Points - 1L) * pointStride + (long)(firstTile + tileRows * tileColumns) * filters)
        {
            throw new ArgumentException($"Products of {mLength} values are too small for tiles up to {firstTile + tileRows * tileColumns} of {filters} filters.");
        }
        epilogue.Check(filters);
        if (epilogue.Pool2 || yLength < (long)outHeight * outWidth * filters || outHeight > 4 * tileRows || outWidth > 4 * tileColumns)
        {
            throw new ArgumentException($"Output of {yLength} values does not fit {outHeight}×{outWidth}×{filters} from {tileRows}×{tileColumns} tiles (F(4×4, 3×3) fuses no pool).");
        }
    }
}
