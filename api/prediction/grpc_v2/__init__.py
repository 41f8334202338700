"""The Open Inference Protocol's gRPC service (``inference.GRPCInferenceService``): the proto as
KServe publishes it (kserve/kserve, python/kserve/kserve/protocol/grpc/grpc_predict_v2.proto,
Apache-2.0) and the modules grpcio-tools generates from it, committed so that serving needs only
grpcio and protobuf at run time. Regenerate (tests/api/test_prediction_grpc.py checks they match):

    cd api/prediction/grpc_v2 && python -m grpc_tools.protoc -I. --python_out=. \
        --grpc_python_out=. --pyi_out=. grpc_predict_v2.proto
    # then import the _pb2 module from this package in grpc_predict_v2_pb2_grpc.py
"""
