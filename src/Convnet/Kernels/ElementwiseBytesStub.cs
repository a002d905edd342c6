namespace Convnet.Kernels;

public static partial class Elementwise { public static void BytesToUnit(ReadOnlySpan<byte> x, Span<float> y) { for (int i = 0; i < x.Length; i++) y[i] = x[i] * (1f / 255f); } }
