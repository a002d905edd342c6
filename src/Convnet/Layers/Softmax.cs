using Convnet.Tensors;

namespace Convnet.Layers;

/// <summary>
/// y = softmax(x) over the features of each sample. When a model ends with Softmax and is trained
/// with cross-entropy, <see cref="Models.Sequential"/> fuses the two and skips this Backward.
/// </summary>
public sealed class Softmax : Layer
{
    private Tensor? _y, _dx;

    public override string TypeName => "Softmax";
    public override IReadOnlyDictionary<string, string> Config => new Dictionary<string, string>();

    public override Shape ComputeOutputShape(Shape input)
    {
        if (input.IsImage)
        {
            throw new ArgumentException($"Softmax needs a vector input, got {input}.");
        }
        return input;
    }

    public override void EnsureCapacity(int batch)
    {
        _y = Reserve(_y, OutputShape, batch);
        if (ComputeInputGradient)
        {
            _dx = Reserve(_dx, InputShape, batch);
        }
    }

    // x: [N, K] → y: [N, K]
    public override Tensor Forward(Tensor x, bool training)
    {
        CheckInput(x);
        EnsureCapacity(x.Batch);
        _y!.SetBatch(x.Batch);
        Kernels.Softmax.Forward(x.Span, x.Batch, InputShape.Size, _y.Span);
        return _y;
    }

    // dy: [N, K] → dx = y ⊙ (dy − ⟨dy, y⟩)
    public override Tensor? Backward(Tensor dy)
    {
        if (!ComputeInputGradient)
        {
            return null;
        }
        _dx!.SetBatch(dy.Batch);
        Kernels.Softmax.Backward(_y!.Span, dy.Span, dy.Batch, InputShape.Size, _dx.Span);
        return _dx;
    }
}
