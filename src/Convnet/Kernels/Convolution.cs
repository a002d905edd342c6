namespace Convnet.Kernels;

/// <summary>
/// The geometry of a 2-D convolution or pooling window over a channels-last image.
/// Output sizes and padding follow Keras/TensorFlow: "valid" uses no padding; "same" gives
/// ceil(size / stride) outputs and puts the odd padding pixel at the bottom/right.
/// </summary>
public readonly record struct ConvGeometry(int Height, int Width, int Channels, int KernelHeight, int KernelWidth, int Stride, int PadTop, int PadLeft, int OutHeight, int OutWidth)
{
    /// <summary>Columns of an im2col row: one receptive field, ordered (kh, kw, c).</summary>
    public int PatchSize => KernelHeight * KernelWidth * Channels;

    /// <summary>Output pixels per channel: OutHeight · OutWidth.</summary>
    public int OutPixels => OutHeight * OutWidth;

    /// <summary>The geometry of a square <paramref name="kernel"/> moved by <paramref name="stride"/> over a (height, width, channels) image, with "same" padding when <paramref name="same"/>, else "valid".</summary>
    public static ConvGeometry Create(int height, int width, int channels, int kernel, int stride, bool same)
    {
        int outH, outW, padTop = 0, padLeft = 0;
        if (same)
        {
            outH = (height + stride - 1) / stride;
            outW = (width + stride - 1) / stride;
            padTop = Math.Max((outH - 1) * stride + kernel - height, 0) / 2;
            padLeft = Math.Max((outW - 1) * stride + kernel - width, 0) / 2;
        }
        else
        {
            outH = height < kernel ? 0 : (height - kernel) / stride + 1;
            outW = width < kernel ? 0 : (width - kernel) / stride + 1;
        }
        return new ConvGeometry(height, width, channels, kernel, kernel, stride, padTop, padLeft, outH, outW);
    }
}

/// <summary>im2col and col2im: the copies that turn a convolution into a GEMM and its input gradient back into an image.</summary>
public static class Convolution
{
    /// <summary>Copies every receptive field of one image into a row of <paramref name="col"/>; padding reads as 0.</summary>
    // x: [H, W, C] → col: [OH * OW, KH * KW * C]
    public static void Im2Col(ReadOnlySpan<float> x, in ConvGeometry g, Span<float> col) => Im2Col(x, g, col, 0, g.OutHeight);

    /// <summary>The rows of <see cref="Im2Col(ReadOnlySpan{float}, in ConvGeometry, Span{float})"/> for output rows [<paramref name="firstRow"/>, + <paramref name="rows"/>), written from the start of <paramref name="col"/>.</summary>
    // x: [H, W, C] → col: [rows * OW, KH * KW * C]
    public static void Im2Col(ReadOnlySpan<float> x, in ConvGeometry g, Span<float> col, int firstRow, int rows)
    {
        int c = g.Channels;
        int rowLength = g.PatchSize;
        int run = g.KernelWidth * c;
        for (int oy = firstRow; oy < firstRow + rows; oy++)
        {
            for (int ox = 0; ox < g.OutWidth; ox++)
            {
                var row = col.Slice(((oy - firstRow) * g.OutWidth + ox) * rowLength, rowLength);
                int y0 = oy * g.Stride - g.PadTop;
                int x0 = ox * g.Stride - g.PadLeft;
                bool inside = x0 >= 0 && x0 + g.KernelWidth <= g.Width;
                for (int ky = 0; ky < g.KernelHeight; ky++)
                {
                    int y = y0 + ky;
                    var dst = row.Slice(ky * run, run);
                    if (y < 0 || y >= g.Height)
                    {
                        dst.Clear();
                    }
                    else if (inside && run <= 8)
                    {
                        // Short runs (one input channel): a plain loop beats a block copy's set-up.
                        var src = x.Slice((y * g.Width + x0) * c, run);
                        for (int i = 0; i < run; i++)
                        {
                            dst[i] = src[i];
                        }
                    }
                    else if (inside)
                    {
                        // A whole kernel row is one contiguous run of the channels-last image.
                        x.Slice((y * g.Width + x0) * c, run).CopyTo(dst);
                    }
                    else
                    {
                        for (int kx = 0; kx < g.KernelWidth; kx++)
                        {
                            int xx = x0 + kx;
                            var d = dst.Slice(kx * c, c);
                            if (xx < 0 || xx >= g.Width)
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
    }

    /// <summary>The adjoint of <see cref="Im2Col(ReadOnlySpan{float}, in ConvGeometry, Span{float})"/>: adds each row of <paramref name="col"/> back onto the pixels it was read from.</summary>
    // col: [OH * OW, KH * KW * C] → dx: [H, W, C] (accumulated)
    public static void Col2Im(ReadOnlySpan<float> col, in ConvGeometry g, Span<float> dx)
    {
        int c = g.Channels;
        int rowLength = g.PatchSize;
        int run = g.KernelWidth * c;
        for (int oy = 0; oy < g.OutHeight; oy++)
        {
            for (int ox = 0; ox < g.OutWidth; ox++)
            {
                var row = col.Slice((oy * g.OutWidth + ox) * rowLength, rowLength);
                int y0 = oy * g.Stride - g.PadTop;
                int x0 = ox * g.Stride - g.PadLeft;
                bool inside = x0 >= 0 && x0 + g.KernelWidth <= g.Width;
                for (int ky = 0; ky < g.KernelHeight; ky++)
                {
                    int y = y0 + ky;
                    if (y < 0 || y >= g.Height)
                    {
                        continue;
                    }
                    if (inside)
                    {
                        // A kernel row covers one contiguous run of the channels-last image.
                        var d = dx.Slice((y * g.Width + x0) * c, run);
                        Elementwise.Map<AddOperator>(d, row.Slice(ky * run, run), d);
                        continue;
                    }
                    for (int kx = 0; kx < g.KernelWidth; kx++)
                    {
                        int xx = x0 + kx;
                        if (xx < 0 || xx >= g.Width)
                        {
                            continue;
                        }
                        var d = dx.Slice((y * g.Width + xx) * c, c);
                        Elementwise.Map<AddOperator>(d, row.Slice((ky * g.KernelWidth + kx) * c, c), d);
                    }
                }
            }
        }
    }

    /// <summary>Direct convolution, the scalar reference for im2col + GEMM.</summary>
    // x: [H, W, C], w: [KH, KW, C, F], bias: [F] → y: [OH, OW, F]
    public static void ForwardScalar(ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> bias, in ConvGeometry g, int filters, Span<float> y)
    {
        for (int oy = 0; oy < g.OutHeight; oy++)
        {
            for (int ox = 0; ox < g.OutWidth; ox++)
            {
                for (int f = 0; f < filters; f++)
                {
                    float sum = bias[f];
                    for (int ky = 0; ky < g.KernelHeight; ky++)
                    {
                        for (int kx = 0; kx < g.KernelWidth; kx++)
                        {
                            int yy = oy * g.Stride - g.PadTop + ky;
                            int xx = ox * g.Stride - g.PadLeft + kx;
                            if (yy < 0 || yy >= g.Height || xx < 0 || xx >= g.Width)
                            {
                                continue;
                            }
                            for (int ch = 0; ch < g.Channels; ch++)
                            {
                                sum += x[(yy * g.Width + xx) * g.Channels + ch] * w[((ky * g.KernelWidth + kx) * g.Channels + ch) * filters + f];
                            }
                        }
                    }
                    y[(oy * g.OutWidth + ox) * filters + f] = sum;
                }
            }
        }
    }
}
