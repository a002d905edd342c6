namespace Convnet.Kernels;

/// <summary>Conversions between this library's weight layouts (Keras's) and PyTorch's, for the model file.</summary>
public static class Layouts
{
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
