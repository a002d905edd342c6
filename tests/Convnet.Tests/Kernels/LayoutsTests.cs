using Convnet.Kernels;
using Xunit;

namespace Convnet.Tests.Kernels;

public class LayoutsTests
{
    [Theory]
    [InlineData(1, 1)]
    [InlineData(7, 9)]
    [InlineData(8, 8)]
    [InlineData(25, 64)]
    [InlineData(64, 25)]
    [InlineData(16, 24)]
    [InlineData(13, 31)]
    [InlineData(1600, 128)]
    public void Transpose_equals_its_scalar_twin_and_undoes_itself(int rows, int cols)
    {
        var random = new Random(rows * 1000 + cols);
        var w = new float[rows * cols];
        for (int i = 0; i < w.Length; i++)
        {
            w[i] = (float)random.NextDouble() - 0.5f;
        }
        var fast = new float[w.Length];
        var twin = new float[w.Length];
        Layouts.Transpose(w, rows, cols, fast);
        Layouts.TransposeScalar(w, rows, cols, twin);
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < cols; c++)
            {
                Assert.Equal(w[r * cols + c], twin[c * rows + r]);
            }
        }
        Assert.Equal(twin, fast);
        var back = new float[w.Length];
        Layouts.Transpose(fast, cols, rows, back);
        Assert.Equal(w, back);
    }

    [Fact]
    public void Transpose_refuses_spans_too_short_for_the_matrix()
    {
        var e = Assert.Throws<ArgumentException>(() => Layouts.Transpose(new float[10], 3, 4, new float[12]));
        Assert.Contains("3×4", e.Message);
    }
}
