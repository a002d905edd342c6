using System.Runtime.Intrinsics;

namespace Convnet.Kernels;

/// <summary>
/// The copies that let training run its 3×3 stride-1 convolutions through <see cref="Winograd"/> and
/// <see cref="Winograd4"/>, whose input transforms read a "valid" image from its top-left corner:
/// a zero border on top and left (padding "same", and the input gradient's full correlation), and
/// the input gradient's kernel (the forward kernel turned 180° with its channels swapped); and
/// F(4×4, 3×3)'s weight transform in float, eight channel pairs at a time, as a training step
/// transforms the kernel twice per batch (<see cref="Winograd4.TransformWeights"/> in double, one
/// pair at a time, took ~0.4 ms of a 3 ms forward).
/// </summary>
public static class WinogradTraining
{
    // Winograd4's G [6, 3] in float: u = G·g·Gᵀ.
    private const float Quarter = 1 / 4f, Sixth = 1 / 6f, Twelfth = 1 / 12f, TwentyFourth = 1 / 24f;

    /// <summary>U = G·g·Gᵀ of F(4×4, 3×3) for every channel pair, in float (within a few units in 1e-7 of <see cref="Winograd4.TransformWeights"/>).</summary>
    // w: [3, 3, C, F] → u: [36, C, F]
    public static void TransformWeights4(ReadOnlySpan<float> w, int channels, int filters, Span<float> u)
    {
        int cf = channels * filters;
        if (w.Length < 9 * cf || u.Length < Winograd4.Points * cf)
        {
            throw new ArgumentException($"Kernel of {w.Length} and transform of {u.Length} values for 3×3×{channels}×{filters}.");
        }
        int p = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            Span<Vector256<float>> g = stackalloc Vector256<float>[9];
            Span<Vector256<float>> t = stackalloc Vector256<float>[18];
            Span<Vector256<float>> r = stackalloc Vector256<float>[36];
            for (; p + 8 <= cf; p += 8)
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
        ScalarPairs(w, cf, p, u);
    }

    /// <summary>The scalar twin of <see cref="TransformWeights4"/>: the same operations in the same order, one pair at a time.</summary>
    public static void TransformWeights4Scalar(ReadOnlySpan<float> w, int channels, int filters, Span<float> u)
    {
        int cf = channels * filters;
        if (w.Length < 9 * cf || u.Length < Winograd4.Points * cf)
        {
            throw new ArgumentException($"Kernel of {w.Length} and transform of {u.Length} values for 3×3×{channels}×{filters}.");
        }
        ScalarPairs(w, cf, 0, u);
    }

    private static void ScalarPairs(ReadOnlySpan<float> w, int cf, int from, Span<float> u)
    {
        Span<float> g = stackalloc float[9];
        Span<float> t = stackalloc float[18];
        Span<float> r = stackalloc float[36];
        for (int p = from; p < cf; p++)
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
}
