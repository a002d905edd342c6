namespace Convnet.Kernels;

/// <summary>Conversions between this library's weight layouts (Keras's) and PyTorch's, for the model file.</summary>
public static class Layouts
{
    /// <summary>Reorders square <paramref name="k"/>×<paramref name="k"/> convolution kernels from Keras's HWIO layout to PyTorch's OIHW; <paramref name="c"/> input channels, <paramref name="f"/> filters.</summary>
    // w: [KH, KW, C, F] (Keras's HWIO) → dst: [F, C, KH, KW] (PyTorch's OIHW)
    public static void HwioToOihw(ReadOnlySpan<float> w, int k, int c, int f, Span<float> dst)
    {
        for (int ky = 0; ky < k; ky++)
        {
            for (int kx = 0; kx < k; kx++)
            {
                for (int ch = 0; ch < c; ch++)
                {
                    for (int o = 0; o < f; o++)
                    {
                        dst[((o * c + ch) * k + ky) * k + kx] = w[((ky * k + kx) * c + ch) * f + o];
                    }
                }
            }
        }
    }

    /// <summary>The inverse of <see cref="HwioToOihw"/>: PyTorch's OIHW kernels back to Keras's HWIO.</summary>
    // w: [F, C, KH, KW] (PyTorch's OIHW) → dst: [KH, KW, C, F] (Keras's HWIO)
    public static void OihwToHwio(ReadOnlySpan<float> w, int k, int c, int f, Span<float> dst)
    {
        for (int ky = 0; ky < k; ky++)
        {
            for (int kx = 0; kx < k; kx++)
            {
                for (int ch = 0; ch < c; ch++)
                {
                    for (int o = 0; o < f; o++)
                    {
                        dst[((ky * k + kx) * c + ch) * f + o] = w[((o * c + ch) * k + ky) * k + kx];
                    }
                }
            }
        }
    }

    /// <summary>Transposes a row-major matrix, e.g. a Dense kernel [in, out] (Keras) to a weight [out, in] (PyTorch) and back.</summary>
    // w: [rows, cols] → dst: [cols, rows]
    public static void Transpose(ReadOnlySpan<float> w, int rows, int cols, Span<float> dst)
    {
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < cols; c++)
            {
                dst[c * rows + r] = w[r * cols + c];
            }
        }
    }
}
