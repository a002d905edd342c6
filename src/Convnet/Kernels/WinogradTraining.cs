namespace Convnet.Kernels;

/// <summary>
/// The copies that let training run its 3×3 stride-1 convolutions through <see cref="Winograd"/> and
/// <see cref="Winograd4"/>, whose input transforms read a "valid" image from its top-left corner:
/// a zero border on top and left (padding "same", and the input gradient's full correlation), and
/// the input gradient's kernel (the forward kernel turned 180° with its channels swapped).
/// </summary>
public static class WinogradTraining
{
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
