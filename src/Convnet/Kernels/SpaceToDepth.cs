namespace Convnet.Kernels;

/// <summary>
/// A stride-2 convolution as a stride-1 one: the input, zero-padded as the convolution pads it, split
/// into its four phases x_pq[i, j] = x[2i + p, 2j + q] stacked as 4·C channels, and the kernel into
/// the matching phases w_pq[a, b] = w[2a + p, 2b + q] (zero where 2a + p or 2b + q passes K), so that
/// y = Σ_pq conv_stride1(x_pq, w_pq): one "valid" convolution of ⌈K/2⌉ × ⌈K/2⌉ taps over 4·C
/// channels, which Winograd runs when ⌈K/2⌉ = 3. Phase channels are ordered (p, q, c).
/// </summary>
public static class SpaceToDepth
{
    /// <summary>Taps per side of the phase kernel of a <paramref name="kernel"/>-wide stride-2 kernel: ⌈K/2⌉.</summary>
    public static int Taps(int kernel) => (kernel + 1) / 2;

    /// <summary>The phase image's (height, width) for a stride-2 convolution <paramref name="g"/>: its output plus ⌈K/2⌉ − 1.</summary>
    public static (int Height, int Width) Size(in ConvGeometry g) => (g.OutHeight + Taps(g.KernelHeight) - 1, g.OutWidth + Taps(g.KernelWidth) - 1);

    /// <summary>
    /// Rows [<paramref name="firstRow"/>, + <paramref name="rows"/>) of the phase image of x, written
    /// from the start of <paramref name="phases"/>; pixels in the padding or past the image read 0.
    /// </summary>
    // x: [H, W, C] → phases: [rows, W', 4·C] with W' = Size(g).Width
    public static void Forward(ReadOnlySpan<float> x, in ConvGeometry g, int firstRow, int rows, Span<float> phases)
    {
        int c = g.Channels;
        int width = Check(x, g, firstRow, rows, phases);
        int pixel = 4 * c;
        for (int i = 0; i < rows; i++)
        {
            for (int j = 0; j < width; j++)
            {
                var dst = phases.Slice((i * width + j) * pixel, pixel);
                for (int p = 0; p < 2; p++)
                {
                    int y = 2 * (firstRow + i) + p - g.PadTop;
                    for (int q = 0; q < 2; q++)
                    {
                        int xx = 2 * j + q - g.PadLeft;
                        var d = dst.Slice((2 * p + q) * c, c);
                        if (y < 0 || y >= g.Height || xx < 0 || xx >= g.Width)
                        {
                            d.Clear();
                        }
                        else
                        {
                            x.Slice((y * g.Width + xx) * c, c).CopyTo(d);
                        }
                    }
                }
            }
        }
    }

    /// <summary>The scalar twin of <see cref="Forward"/>: one value at a time, from the definition.</summary>
    public static void ForwardScalar(ReadOnlySpan<float> x, in ConvGeometry g, int firstRow, int rows, Span<float> phases)
    {
        int c = g.Channels;
        int width = Check(x, g, firstRow, rows, phases);
        for (int i = 0; i < rows; i++)
        {
            for (int j = 0; j < width; j++)
            {
                for (int phase = 0; phase < 4; phase++)
                {
                    for (int k = 0; k < c; k++)
                    {
                        // Row and column of the padded input.
                        int r = 2 * (firstRow + i) + phase / 2, s = 2 * j + phase % 2;
                        int y = r - g.PadTop, xx = s - g.PadLeft;
                        bool inside = y >= 0 && y < g.Height && xx >= 0 && xx < g.Width;
                        phases[((i * width + j) * 4 + phase) * c + k] = inside ? x[(y * g.Width + xx) * c + k] : 0;
                    }
                }
            }
        }
    }

    /// <summary>The phase kernel: w'[a, b, (p, q, c), f] = w[2a + p, 2b + q, c, f], 0 past the kernel.</summary>
    // w: [K, K, C, F] → phased: [T, T, 4·C, F] with T = ⌈K/2⌉
    public static void TransformWeights(ReadOnlySpan<float> w, int kernel, int channels, int filters, Span<float> phased)
    {
        int taps = Taps(kernel);
        if (w.Length != kernel * kernel * channels * filters || phased.Length != taps * taps * 4 * channels * filters)
        {
            throw new ArgumentException($"Kernel of {w.Length} values and phase kernel of {phased.Length} for a {kernel}×{kernel}×{channels}×{filters} kernel.");
        }
        int cf = channels * filters;
        for (int a = 0; a < taps; a++)
        {
            for (int b = 0; b < taps; b++)
            {
                for (int phase = 0; phase < 4; phase++)
                {
                    int ky = 2 * a + phase / 2, kx = 2 * b + phase % 2;
                    var dst = phased.Slice(((a * taps + b) * 4 + phase) * cf, cf);
                    if (ky < kernel && kx < kernel)
                    {
                        w.Slice((ky * kernel + kx) * cf, cf).CopyTo(dst);
                    }
                    else
                    {
                        dst.Clear();
                    }
                }
            }
        }
    }

    /// <summary>
    /// The input gradient from the phase image's: the adjoint of <see cref="Forward"/> over all its
    /// rows, each pixel of x reading its one place among the phases (the padding's places dropped; a
    /// pixel past the phase image, which no output reads, gets 0).
    /// </summary>
    // phases: [H', W', 4·C] → dx: [H, W, C] (overwritten)
    public static void Backward(ReadOnlySpan<float> phases, in ConvGeometry g, Span<float> dx)
    {
        int c = g.Channels;
        var (height, width) = Size(g);
        if (g.Stride != 2 || phases.Length < height * width * 4 * c || dx.Length < g.Height * g.Width * c)
        {
            throw new ArgumentException($"Phase gradient of {phases.Length} values into {dx.Length} for {g}.");
        }
        for (int y = 0; y < g.Height; y++)
        {
            int py = y + g.PadTop;
            for (int x = 0; x < g.Width; x++)
            {
                int px = x + g.PadLeft;
                var d = dx.Slice((y * g.Width + x) * c, c);
                // A 'valid' convolution may leave the last row or column of x to no output: no place, no gradient.
                if ((py >> 1) >= height || (px >> 1) >= width)
                {
                    d.Clear();
                    continue;
                }
                phases.Slice((((py >> 1) * width + (px >> 1)) * 4 + 2 * (py & 1) + (px & 1)) * c, c).CopyTo(d);
            }
        }
    }

    /// <summary>
    /// The pixels of x in phase (<paramref name="p"/>, <paramref name="q"/>) from that phase's gradient:
    /// x[2i + p − PadTop, 2j + q − PadLeft] = phase[i − firstRow, j − firstColumn] for the phase image's
    /// rows [<paramref name="firstRow"/>, + rows) and columns [<paramref name="firstColumn"/>, + columns),
    /// which must all be pixels of x; the rest of x is left as it is. Over the four phases, each with
    /// the rows and columns of it that lie in x, this writes what <see cref="Backward"/> writes.
    /// </summary>
    // phase: [rows, columns, C] → dx: [H, W, C] (those pixels overwritten)
    public static void ScatterPhase(ReadOnlySpan<float> phase, in ConvGeometry g, int p, int q, int firstRow, int firstColumn, int rows, int columns, Span<float> dx)
    {
        int c = g.Channels;
        int top = 2 * firstRow + p - g.PadTop, left = 2 * firstColumn + q - g.PadLeft;
        if (g.Stride != 2 || rows < 0 || columns < 0 || phase.Length < rows * columns * c || dx.Length < g.Height * g.Width * c
            || (rows > 0 && columns > 0 && (top < 0 || left < 0 || top + 2 * (rows - 1) >= g.Height || left + 2 * (columns - 1) >= g.Width)))
        {
            throw new ArgumentException($"Phase ({p}, {q}) rows {firstRow}..+{rows}, columns {firstColumn}..+{columns} ({phase.Length} values) into {dx.Length} for {g}.");
        }
        for (int i = 0; i < rows; i++)
        {
            for (int j = 0; j < columns; j++)
            {
                phase.Slice((i * columns + j) * c, c).CopyTo(dx.Slice(((top + 2 * i) * g.Width + left + 2 * j) * c, c));
            }
        }
    }

    /// <summary>The kernel gradient from the phase kernel's: the adjoint of <see cref="TransformWeights"/>, dw[ky, kx, c, f] += phased[⌊ky/2⌋, ⌊kx/2⌋, (ky mod 2, kx mod 2, c), f].</summary>
    // phased: [T, T, 4·C, F] → dw: [K, K, C, F] (accumulated)
    public static void AccumulateKernelGradient(ReadOnlySpan<float> phased, int kernel, int channels, int filters, Span<float> dw)
    {
        int taps = Taps(kernel);
        if (dw.Length != kernel * kernel * channels * filters || phased.Length != taps * taps * 4 * channels * filters)
        {
            throw new ArgumentException($"Kernel gradient of {dw.Length} values and phase kernel gradient of {phased.Length} for a {kernel}×{kernel}×{channels}×{filters} kernel.");
        }
        int cf = channels * filters;
        for (int ky = 0; ky < kernel; ky++)
        {
            for (int kx = 0; kx < kernel; kx++)
            {
                var src = phased.Slice((((ky >> 1) * taps + (kx >> 1)) * 4 + 2 * (ky & 1) + (kx & 1)) * cf, cf);
                var dst = dw.Slice((ky * kernel + kx) * cf, cf);
                Elementwise.Map<AddOperator>(dst, src, dst);
            }
        }
    }

    // Returns the phase image's width.
    private static int Check(ReadOnlySpan<float> x, in ConvGeometry g, int firstRow, int rows, Span<float> phases)
    {
        if (g.Stride != 2)
        {
            throw new ArgumentException($"Space-to-depth needs a stride-2 convolution, got stride {g.Stride}.");
        }
        var (height, width) = Size(g);
        if (x.Length < g.Height * g.Width * g.Channels)
        {
            throw new ArgumentException($"Input of {x.Length} values is smaller than {g.Height}×{g.Width}×{g.Channels}.");
        }
        if (firstRow < 0 || rows < 0 || firstRow + rows > height || phases.Length < rows * width * 4 * g.Channels)
        {
            throw new ArgumentException($"Phase rows {firstRow}..{firstRow + rows} of {height} into {phases.Length} values ({width}×{4 * g.Channels} per row).");
        }
        return width;
    }
}
