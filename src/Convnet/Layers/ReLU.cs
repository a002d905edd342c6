using Convnet.Kernels;
using Convnet.Tensors;

namespace Convnet.Layers;

/// <summary>y = max(x, 0); dx = dy where x &gt; 0.</summary>
public sealed class ReLU : Layer
{
    private readonly Action<int> _forwardChunk;
    private readonly Action<int> _backwardChunk;
    private Tensor? _x, _y, _dx, _dy;

    public ReLU()
    {
        _forwardChunk = ForwardChunk;
        _backwardChunk = BackwardChunk;
    }

    public override string TypeName => "ReLU";
    public override string DefaultName => "re_lu";
    public override IReadOnlyDictionary<string, string> Config => new Dictionary<string, string>();
    public override Shape ComputeOutputShape(Shape input) => input;

    public override void EnsureCapacity(int batch)
    {
        _y = Reserve(_y, OutputShape, batch);
        if (ComputeInputGradient)
        {
            _dx = Reserve(_dx, InputShape, batch);
        }
    }

    public override Tensor Forward(Tensor x, bool training)
    {
        CheckInput(x);
        EnsureCapacity(x.Batch);
        _x = x;
        _y!.SetBatch(x.Batch);
        Pool.For(Chunks.Count(x.Batch), _forwardChunk);
        return _y;
    }

    private void ForwardChunk(int chunk)
    {
        var (start, count) = Chunks.Range(chunk, _x!.Batch);
        Elementwise.Map<ReluOperator>(_x.Samples(start, count), _y!.Samples(start, count));
    }

    public override Tensor? Backward(Tensor dy)
    {
        if (!ComputeInputGradient)
        {
            return null;
        }
        _dy = dy;
        _dx!.SetBatch(dy.Batch);
        Pool.For(Chunks.Count(dy.Batch), _backwardChunk);
        return _dx;
    }

    private void BackwardChunk(int chunk)
    {
        var (start, count) = Chunks.Range(chunk, _dy!.Batch);
        Elementwise.Map<ReluGradientOperator>(_x!.Samples(start, count), _dy.Samples(start, count), _dx!.Samples(start, count));
    }
}
